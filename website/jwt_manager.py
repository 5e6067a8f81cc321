"""flask-jwt-extended's JWTManager, remembering the tokens it has already verified.

Verifying a token is the same work on every request that carries it: flask-jwt-extended parses
it three times (its unverified claims, its header, then the verified claims) and checks its
signature, about 0.15 ms, a tenth of an authenticated read. A token's signature and claims never
change, so each app keeps the claims of the tokens it verified recently and, on a hit, only checks
the clock again (``exp``, ``nbf``, ``iat``, with the configured leeway), as PyJWT would. A token
whose time is up falls through to the full verification, which raises the usual error.

flask-jwt-extended then reads the verified token's header once more, through PyJWT, which checks
every character of the token in Python (about 0.1 ms): the header, a pure function of the token's
text, is remembered too.

Nothing else is cached: revocation (the blocklist) and the user's state are checked on every
request by their own callbacks, so logging out or deactivating a user still takes effect at once.
"""

from __future__ import annotations

import time
from datetime import timedelta
from functools import lru_cache
from typing import Any

import flask_jwt_extended
import flask_jwt_extended.view_decorators
import jwt
from flask import Flask, current_app

__all__ = ["VERIFIED_TOKENS_CACHED", "JWTManager", "remembered_jwt_header"]

#: Verified tokens remembered per app (each entry is a token and its claims, about 1 KiB).
VERIFIED_TOKENS_CACHED = 4096
_EXTENSION_KEY = "jwt_verified_tokens"


class JWTManager(flask_jwt_extended.JWTManager):
    def init_app(self, app: Flask, add_context_processor: bool = False) -> None:
        super().init_app(app, add_context_processor=add_context_processor)
        # One cache per app: apps in one process may have different keys or settings.
        app.extensions[_EXTENSION_KEY] = lru_cache(maxsize=VERIFIED_TOKENS_CACHED)(self._verify)

    def _decode_jwt_from_config(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        if csrf_value is not None or allow_expired:
            return self._verify(encoded_token, csrf_value, allow_expired)
        claims: dict[str, Any] = current_app.extensions[_EXTENSION_KEY](encoded_token)
        if not _in_time(claims, current_app.config["JWT_DECODE_LEEWAY"]):
            return self._verify(encoded_token)  # raises the error PyJWT raises for it
        return dict(claims)  # a copy: callers may keep or change what they get

    def _verify(
        self, encoded_token: str, csrf_value: Any = None, allow_expired: bool = False
    ) -> dict[str, Any]:
        claims: dict[str, Any] = super()._decode_jwt_from_config(
            encoded_token, csrf_value, allow_expired
        )
        return claims


@lru_cache(maxsize=VERIFIED_TOKENS_CACHED)
def _header_of(encoded_token: str) -> dict[str, Any]:
    header: dict[str, Any] = jwt.get_unverified_header(encoded_token)
    return header


def remembered_jwt_header(encoded_token: str) -> dict[str, Any]:
    """The token's header, as ``flask_jwt_extended.get_unverified_jwt_headers`` reads it."""
    return dict(_header_of(encoded_token))  # a copy: callers may keep or change what they get


# The name flask-jwt-extended's view decorators call for the header of every verified token.
flask_jwt_extended.view_decorators.get_unverified_jwt_headers = remembered_jwt_header


def _in_time(claims: dict[str, Any], leeway: int | float | timedelta) -> bool:
    """PyJWT's time checks of a token whose claims it has already validated once."""
    seconds = leeway.total_seconds() if isinstance(leeway, timedelta) else float(leeway)
    now = time.time()
    if "exp" in claims and int(claims["exp"]) <= now - seconds:
        return False
    if "nbf" in claims and int(claims["nbf"]) > now + seconds:
        return False
    return not ("iat" in claims and int(claims["iat"]) > now + seconds)
