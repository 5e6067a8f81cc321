"""Schemas for registering, logging in and the tokens the API hands out."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from website.schemas import StrictSchema
from website.schemas.common import StrictBoolean
from website.services.users import (
    PASSWORD_MAX_LENGTH,
    PASSWORD_MIN_LENGTH,
    USERNAME_MAX_LENGTH,
    USERNAME_PATTERN,
)

__all__ = [
    "AccessTokenSchema",
    "CredentialsSchema",
    "LoginSchema",
    "LogoutSchema",
    "PasswordGrantSchema",
    "PasswordGrantTokenSchema",
    "TokenPairSchema",
]


class CredentialsSchema(StrictSchema):
    """A new account's username and password (the role is never taken from the request)."""

    username = fields.String(
        required=True,
        validate=validate.Regexp(USERNAME_PATTERN, error="3-64 letters, digits, '.', '_' or '-'."),
        metadata={"example": "newcomer"},
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH),
        metadata={"example": "correct horse battery"},
    )


class LoginSchema(StrictSchema):
    """Credentials to log in with; only lengths are checked, so a wrong pair is always one 401."""

    username = fields.String(
        required=True,
        validate=validate.Length(min=1, max=USERNAME_MAX_LENGTH),
        metadata={"example": "demo"},
    )
    password = fields.String(
        required=True,
        load_only=True,
        validate=validate.Length(max=PASSWORD_MAX_LENGTH),
        metadata={"example": "demo-password"},
    )


class LogoutSchema(StrictSchema):
    """What to log out of; the body is optional."""

    all_sessions = StrictBoolean(
        data_key="all",
        load_default=False,
        metadata={
            "description": "true: end every session of the account, every access and refresh "
            "token issued to it so far, on every device. false or absent: revoke only the "
            "presented token.",
            "example": True,
        },
    )

    @ma.pre_load
    def _all_is_a_json_boolean(self, data: object, **_kwargs: object) -> object:
        # marshmallow's Boolean also takes 1, "yes", "on"...: here only true or false do.
        if isinstance(data, dict) and "all" in data and not isinstance(data["all"], bool):
            raise ma.ValidationError("Must be true or false.", "all")
        return data


class PasswordGrantSchema(LoginSchema):
    """An OAuth 2.0 password grant (RFC 6749 4.3) in form data, as Swagger UI's Authorize sends."""

    grant_type = fields.String(
        required=True,
        validate=validate.OneOf(["password"]),
        metadata={"example": "password"},
    )
    scope = fields.String(
        validate=validate.Length(max=1000), metadata={"description": "Ignored: no scopes."}
    )
    client_id = fields.String(
        validate=validate.Length(max=1000), metadata={"description": "Ignored: no clients."}
    )
    client_secret = fields.String(
        load_only=True,
        validate=validate.Length(max=1000),
        metadata={"description": "Ignored: no clients."},
    )


# A made-up JWT, as an example.
_ACCESS_TOKEN_EXAMPLE = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"  # noqa: S105


class AccessTokenSchema(ma.Schema):
    access_token = fields.String(required=True, metadata={"example": _ACCESS_TOKEN_EXAMPLE})


class TokenPairSchema(AccessTokenSchema):
    refresh_token = fields.String(required=True, metadata={"example": _ACCESS_TOKEN_EXAMPLE})


class PasswordGrantTokenSchema(TokenPairSchema):
    """An OAuth 2.0 token response (RFC 6749 5.1): the access token is the API's bearer JWT."""

    token_type = fields.String(required=True, metadata={"enum": ["bearer"], "example": "bearer"})
    expires_in = fields.Integer(
        required=True, metadata={"description": "Seconds the access token lasts.", "example": 900}
    )
