"""Schemas for API keys: creating one, the key shown once, and the listing without secrets."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from website.schemas import StrictSchema
from website.schemas.common import NO_NUL_CHARACTERS, UTCDateTime

__all__ = ["ApiKeyCreateSchema", "ApiKeySchema", "CreatedApiKeySchema"]

MAX_KEY_NAME_LENGTH = 100  # the width of api_keys.name


class ApiKeyCreateSchema(StrictSchema):
    """A new API key: a name to recognise it by, and an optional expiry."""

    name = fields.String(
        required=True,
        validate=[validate.Length(min=1, max=MAX_KEY_NAME_LENGTH), NO_NUL_CHARACTERS],
        metadata={"example": "nightly report"},
    )
    expires_at = UTCDateTime(
        allow_none=True,
        load_default=None,
        metadata={
            "description": "When the key stops working, in the future (none: never).",
            "example": None,
        },
    )


class ApiKeySchema(ma.Schema):
    """An API key as listed: never the key itself, only its first characters."""

    id = fields.Integer(dump_only=True, metadata={"example": 1})
    name = fields.String(dump_only=True, metadata={"example": "nightly report"})
    prefix = fields.String(
        dump_only=True,
        metadata={"description": "The key's first characters.", "example": "chk_Xq3v9LmA"},
    )
    created_at = UTCDateTime(dump_only=True)
    expires_at = UTCDateTime(dump_only=True, allow_none=True)


class CreatedApiKeySchema(ApiKeySchema):
    """A new API key, with the key itself: shown this once, stored only as a hash."""

    key = fields.String(
        dump_only=True,
        metadata={
            "description": "Send it as `Authorization: Bearer <key>`. Shown only in this answer.",
            "example": "chk_Xq3v9LmAexampleexampleexampleexampleexamp",
        },
    )
