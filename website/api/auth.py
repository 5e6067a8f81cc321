"""Accounts and tokens: register, log in, refresh, log out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from flask import Response, current_app, request
from flask_jwt_extended import get_jwt
from flask_limiter.util import get_remote_address

from website.api.blueprint import Blueprint
from website.auth import any_token_required, current_user, refresh_token_required
from website.errors import Unauthorized
from website.extensions import limiter
from website.models import User
from website.schemas.auth import (
    AccessTokenSchema,
    CredentialsSchema,
    LoginSchema,
    LogoutSchema,
    PasswordGrantSchema,
    PasswordGrantTokenSchema,
    TokenPairSchema,
)
from website.schemas.users import UserSchema
from website.services import tokens, users
from website.services.users import USERNAME_MAX_LENGTH

__all__ = ["blp"]

P = ParamSpec("P")
R = TypeVar("R")

blp = Blueprint("auth", __name__, description="Accounts and tokens")
# Answers here carry tokens (or say whether credentials were right): no cache may keep one.
NO_STORE = "no-store"

RETRY_AFTER_DOC = {
    "Retry-After": {
        "description": "Seconds until a new attempt may succeed",
        "schema": {"type": "integer"},
    }
}


@blp.after_request
def _never_stored(response: Response) -> Response:
    response.headers["Cache-Control"] = NO_STORE
    return response


def _auth_limit() -> str:
    limit: str = current_app.config["RATELIMIT_AUTH"]
    return limit


def _client_address_key() -> str:
    return f"ip:{get_remote_address()}"


def _submitted_username_key() -> str:
    # Any body at all must reach the schema's 422, never a 500: read it defensively.
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nesting too deep to decode: the body parser answers 400 for it
        body = None
    username = body.get("username") if isinstance(body, dict) else request.form.get("username")
    if not isinstance(username, str):
        username = ""
    return f"username:{username[:USERNAME_MAX_LENGTH].lower()}"


def _limited_per_address(view: Callable[P, R]) -> Callable[P, R]:
    """Limit every attempt at a credentials endpoint per client address."""
    return limiter.limit(_auth_limit, key_func=_client_address_key)(view)


def _limited_per_address_and_username(view: Callable[P, R]) -> Callable[P, R]:
    """Limit every attempt per client address and per submitted username."""
    per_username = limiter.limit(_auth_limit, key_func=_submitted_username_key)
    return _limited_per_address(per_username(view))


# Failed logins per submitted username, from any address: a guesser spreading over many
# addresses still meets it. Only failures count and only failures are refused, so nobody can
# lock the owner out by failing on purpose (the owner's right password is never refused by it).
_FAILED_LOGINS_PER_USERNAME = limiter.limit(_auth_limit, key_func=_submitted_username_key)


@blp.route("/register", methods=["POST"])
@blp.doc(security=[])
@_limited_per_address_and_username
@blp.arguments(CredentialsSchema)
@blp.response(201, UserSchema)
@blp.alt_response(409, schema="Error", description="The username is taken")
@blp.alt_response(429, schema="Error", description="Too many attempts", headers=RETRY_AFTER_DOC)
def register(credentials: dict[str, Any]) -> User:
    """Create an account (role user)."""
    return users.create_user(credentials["username"], credentials["password"])


@blp.route("/login", methods=["POST"])
@blp.doc(security=[])
@_limited_per_address
@blp.arguments(LoginSchema)
@blp.response(200, TokenPairSchema)
@blp.alt_response(
    401, schema="Error", description="Unknown user or wrong password (one message for both)"
)
@blp.alt_response(429, schema="Error", description="Too many attempts", headers=RETRY_AFTER_DOC)
def login(credentials: dict[str, Any]) -> tokens.TokenPair:
    """Log in: trade a username and password for an access and a refresh token."""
    return _log_in(credentials)


def _log_in(credentials: dict[str, Any]) -> tokens.TokenPair:
    try:
        return tokens.log_in(credentials["username"], credentials["password"])
    except Unauthorized:
        with _FAILED_LOGINS_PER_USERNAME:  # counts this failure; a 429 past the limit
            pass
        raise


@blp.route("/token", methods=["POST"])
@blp.doc(security=[])
@_limited_per_address
@blp.arguments(PasswordGrantSchema, location="form")
@blp.response(200, PasswordGrantTokenSchema)
@blp.alt_response(
    401, schema="Error", description="Unknown user or wrong password (one message for both)"
)
@blp.alt_response(429, schema="Error", description="Too many attempts", headers=RETRY_AFTER_DOC)
def token(grant: dict[str, Any]) -> dict[str, Any]:
    """Log in with an OAuth 2.0 password grant (form data), as Swagger UI's Authorize does.

    The form of RFC 6749 4.3 (grant_type=password, username, password; scope, client_id and
    client_secret are ignored), answered as /login is, plus token_type and expires_in. Errors
    have the API's JSON error format, like every other endpoint's, not RFC 6749's.
    """
    pair = _log_in(grant)
    lifetime = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    return {
        "access_token": pair.access_token,
        "refresh_token": pair.refresh_token,
        "token_type": "bearer",
        "expires_in": int(lifetime.total_seconds()),
    }


@blp.route("/refresh", methods=["POST"])
@refresh_token_required
@blp.response(200, AccessTokenSchema)
def refresh() -> dict[str, str]:
    """Trade a refresh token (as the bearer) for a new access token."""
    return {"access_token": tokens.issue_access_token(current_user)}


@blp.route("/logout", methods=["POST"])
@any_token_required
@blp.arguments(LogoutSchema, required=False)
@blp.response(204)
def logout(options: dict[str, Any]) -> None:
    """Log out: revoke the presented token, or with {"all": true} every token of the account.

    The presented token may be an access or a refresh token. Without "all" only that token is
    revoked (until it expires); with "all": true every access and refresh token issued to the
    account so far stops working, on every device.
    """
    tokens.log_out(get_jwt(), everywhere=options["all_sessions"])
