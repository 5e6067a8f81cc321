"""Bearer auth: JWTs (string identities, claims, revocation) and API keys, the logged-in user,
role checks and 401s in the API's format."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar, cast

from flask import Flask, Response, current_app, g, request
from flask_jwt_extended import get_current_user, get_jwt, jwt_required
from flask_smorest import Blueprint
from redis.exceptions import RedisError
from werkzeug.exceptions import ServiceUnavailable
from werkzeug.local import LocalProxy

from website.errors import Forbidden, error_response
from website.extensions import jwt
from website.models import Role, User
from website.services.api_keys import caller_for_api_key, is_api_key
from website.services.callers import Caller, active_caller
from website.services.tokens import is_token_revoked
from website.services.users import find_user

__all__ = [
    "API_KEY_USER_ID",
    "BEARER_SCHEME",
    "BEARER_SECURITY",
    "PASSWORD_FLOW_SCHEME",
    "admin_required",
    "any_token_required",
    "authenticated_by_api_key",
    "current_user",
    "init_app",
    "login_required",
    "owner_scope",
    "refresh_token_required",
]

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

# The OpenAPI security schemes, registered on the Api in website.api.init_app: a bearer pasted
# in (an access token or an API key), or one Swagger UI gets from POST /token with a password.
# Either one is enough.
BEARER_SCHEME = "bearerAuth"
PASSWORD_FLOW_SCHEME = "passwordLogin"  # noqa: S105  (a name, not a password)
BEARER_SECURITY: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}, {PASSWORD_FLOW_SCHEME: []}]
# Where a request authenticated by an API key keeps its caller (flask.g), and the user's id for
# the log (website/log.py reads it).
API_KEY_CALLER = "api_key_caller"
API_KEY_USER_ID = "api_key_user_id"
ROLE_CLAIM = "role"
# The account's security stamp when the token was issued (see website/models/user.py).
STAMP_CLAIM = "stamp"
TOKEN_TYPES = frozenset({"access", "refresh"})
# Claims every token must carry as text or a number: without a jti it cannot be revoked, without
# an exp it never ends, without a stamp it belongs to no account. flask-jwt-extended accepts
# tokens lacking them (a leaked key or another issuer could make one), so they are checked here.
REQUIRED_TEXT_CLAIMS = ("jti", STAMP_CLAIM)
REQUIRED_NUMBER_CLAIMS = ("exp",)


def _current_caller() -> Caller:
    caller: Caller | None = g.get(API_KEY_CALLER)
    return caller if caller is not None else cast(Caller, get_current_user())


#: The logged-in user, re-read from the database on every request (see ``_load_user`` and
#: ``_accepting_api_keys``).
current_user: Caller = cast(Caller, LocalProxy(_current_caller))


def _presented_api_key() -> str | None:
    """The API key of the request's ``Authorization: Bearer`` header, if it carries one."""
    scheme, _, credential = request.headers.get("Authorization", "").partition(" ")
    credential = credential.strip()
    if scheme.lower() == "bearer" and is_api_key(credential):
        return credential
    return None


def _accepting_api_keys(view: Callable[P, R], jwt_protected: Callable[P, R]) -> Callable[P, R]:
    """``jwt_protected``, unless the bearer is an API key: then the key's active owner calls."""

    @functools.wraps(view)
    def protected(*args: P.args, **kwargs: P.kwargs) -> R:
        key = _presented_api_key()
        if key is None:
            return jwt_protected(*args, **kwargs)
        caller = caller_for_api_key(key)
        if caller is None:
            return cast(
                R,
                _unauthorized(
                    "Invalid API key: unknown, deleted or expired, or its account is deactivated"
                ),
            )
        setattr(g, API_KEY_CALLER, caller)
        setattr(g, API_KEY_USER_ID, caller.id)
        return cast(R, current_app.ensure_sync(view)(*args, **kwargs))

    return protected


def _bearer_protected(
    view: Callable[P, R], refresh: bool = False, verify_type: bool = True, api_keys: bool = False
) -> Callable[P, R]:
    protected = jwt_required(refresh=refresh, verify_type=verify_type)(view)
    if api_keys:
        protected = _accepting_api_keys(view, protected)
    documented = Blueprint.doc(security=BEARER_SECURITY, responses={"401": "UNAUTHORIZED"})
    return cast(Callable[P, R], documented(protected))


def authenticated_by_api_key() -> bool:
    """Whether the request's caller presented an API key (rather than a JWT)."""
    return g.get(API_KEY_CALLER) is not None


def login_required(view: Callable[P, R]) -> Callable[P, R]:
    """Require a valid, unrevoked access token or API key of an active user (bearer auth)."""
    return _bearer_protected(view, api_keys=True)


def refresh_token_required(view: Callable[P, R]) -> Callable[P, R]:
    """Require a valid, unrevoked refresh token of an active user."""
    return _bearer_protected(view, refresh=True)


def any_token_required(view: Callable[P, R]) -> Callable[P, R]:
    """Require a valid, unrevoked token of either type (logging out revokes either)."""
    return _bearer_protected(view, verify_type=False)


def admin_required(view: Callable[P, R]) -> Callable[P, R]:
    """Like ``login_required``, and the caller must be an admin in the database (and, with a JWT,
    by its claim too).

    The claim alone is not trusted: a demoted admin loses access at once.
    """

    @functools.wraps(view)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> R:
        by_claim = authenticated_by_api_key() or get_jwt().get(ROLE_CLAIM) == Role.ADMIN
        if not by_claim or not current_user.is_admin:
            raise Forbidden("This operation needs the admin role")
        return view(*args, **kwargs)

    return login_required(guarded)


def owner_scope(all_requested: bool) -> int | None:
    """The owner whose objects a request may see: None (everyone) for an admin asking ?all=1."""
    if all_requested and current_user.is_admin:
        return None
    return current_user.id


@jwt.user_identity_loader
def _identity(user: User | Caller | int | str) -> str:
    return str(user.id if isinstance(user, User | Caller) else user)


@jwt.additional_claims_loader
def _account_claims(user: User | Caller | int | str) -> dict[str, str]:
    # Tokens are created from a User, a Caller (both just read) or an id; the role and the stamp
    # always come from the database. A token for no account gets no stamp and never works.
    if isinstance(user, User | Caller):
        found: User | Caller | None = user
    else:
        user_id = _user_id(user)
        found = None if user_id is None else find_user(user_id)
    if found is None:
        return {ROLE_CLAIM: Role.USER.value}
    return {ROLE_CLAIM: found.role, STAMP_CLAIM: found.security_stamp}


def _user_id(identity: Any) -> int | None:
    try:
        return int(identity)
    except (TypeError, ValueError):
        return None


@jwt.user_lookup_loader
def _load_user(_header: dict[str, Any], payload: dict[str, Any]) -> Caller | None:
    # A deleted or deactivated user's tokens stop working at once, and so do tokens issued
    # under another stamp (an earlier account with this id, or before "log out everywhere").
    user_id = _user_id(payload["sub"])
    return None if user_id is None else active_caller(user_id, payload[STAMP_CLAIM])


def _missing_claims(payload: dict[str, Any]) -> list[str]:
    """The required claims ``payload`` lacks or carries with a value of the wrong kind."""
    missing = [name for name in REQUIRED_TEXT_CLAIMS if not isinstance(payload.get(name), str)]
    return missing + [
        name
        for name in REQUIRED_NUMBER_CLAIMS
        if isinstance(payload.get(name), bool) or not isinstance(payload.get(name), int | float)
    ]


@jwt.token_verification_loader
def _is_well_formed(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    # flask-jwt-extended treats any type but "refresh" as an access token; we only issue these two.
    return payload.get("type") in TOKEN_TYPES and not _missing_claims(payload)


@jwt.token_in_blocklist_loader
def _is_revoked(_header: dict[str, Any], payload: dict[str, Any]) -> bool:
    jti = payload.get("jti")
    if not isinstance(jti, str):
        return False  # not revoked, but refused by _is_well_formed all the same
    try:
        return is_token_revoked(jti)
    except RedisError:
        # Fail closed: without the blocklist a logged-out token could still be used.
        logger.exception("JWT blocklist unreachable")
        raise ServiceUnavailable("Token check unavailable, try again shortly") from None


def _unauthorized(message: str) -> Response:
    response = error_response(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="challenge"'
    return response


@jwt.unauthorized_loader
def _missing_token(reason: str) -> Response:
    return _unauthorized(f"Missing or malformed Authorization header: {reason}")


@jwt.invalid_token_loader
def _invalid_token(reason: str) -> Response:
    return _unauthorized(f"Invalid token: {reason}")


@jwt.expired_token_loader
def _expired_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("Token has expired")


@jwt.revoked_token_loader
def _revoked_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("Token has been revoked")


@jwt.needs_fresh_token_loader
def _stale_token(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized("Fresh token required")


@jwt.user_lookup_error_loader
def _unknown_user(_header: dict[str, Any], _payload: dict[str, Any]) -> Response:
    return _unauthorized(
        "The token's account no longer accepts it (deleted, deactivated or logged out everywhere)"
    )


@jwt.token_verification_failed_loader
def _failed_verification(_header: dict[str, Any], payload: dict[str, Any]) -> Response:
    missing = _missing_claims(payload)
    if missing:
        return _unauthorized(f"Invalid token: missing or malformed claim {', '.join(missing)}")
    return _unauthorized("Token verification failed")


def init_app(app: Flask) -> None:
    jwt.init_app(app)
