"""JWTs: issuing them at login and refresh, and revoking them through a Redis blocklist."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from flask_jwt_extended import create_access_token, create_refresh_token

from website.models import User
from website.redis_client import get_redis
from website.services.callers import Caller
from website.services.users import authenticate, end_every_session

__all__ = [
    "BLOCKLIST_PREFIX",
    "TokenPair",
    "is_token_revoked",
    "issue_access_token",
    "issue_token_pair",
    "log_in",
    "log_out",
    "revoke_token",
]

logger = logging.getLogger(__name__)

BLOCKLIST_PREFIX = "jwt:blocklist:"  # + jti; the key expires when the token would have
MIN_BLOCKLIST_SECONDS = 1  # Redis refuses a zero expiry; a just-expired token is dead anyway


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str


def log_in(username: str, password: str) -> TokenPair:
    """Check the credentials and issue an access and a refresh token."""
    user = authenticate(username, password)
    logger.info("user logged in", extra={"user_id": user.id})
    return issue_token_pair(user)


def issue_token_pair(user: User) -> TokenPair:
    """A new access and refresh token for ``user``, under the account's current stamp."""
    return TokenPair(
        access_token=create_access_token(identity=user),
        refresh_token=create_refresh_token(identity=user),
    )


def issue_access_token(user: User | Caller) -> str:
    """A new access token for ``user`` (whose refresh token was just verified)."""
    return create_access_token(identity=user)


def revoke_token(payload: dict[str, Any]) -> None:
    """Blocklist a decoded token by its jti until the moment it would expire anyway."""
    seconds_left = int(payload["exp"] - time.time())
    get_redis().set(
        BLOCKLIST_PREFIX + payload["jti"], "1", ex=max(seconds_left, MIN_BLOCKLIST_SECONDS)
    )
    logger.info("%s token revoked", payload.get("type"), extra={"user_id": payload.get("sub")})


def log_out(payload: dict[str, Any], everywhere: bool = False) -> None:
    """Revoke a decoded token; ``everywhere``: every token of its user instead (a new stamp)."""
    if everywhere:
        end_every_session(int(payload["sub"]))
    else:
        revoke_token(payload)


def is_token_revoked(jti: str) -> bool:
    return bool(get_redis().exists(BLOCKLIST_PREFIX + jti))
