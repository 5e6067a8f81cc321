"""Building blocks shared by the task and job schemas: UTC datetimes, safe text, query arguments."""

from __future__ import annotations

import datetime as dt
from datetime import UTC
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

__all__ = [
    "NO_NUL_CHARACTERS",
    "QueryArgsSchema",
    "ScopeArgsSchema",
    "UTCDateTime",
]


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 datetime: one without a time zone is taken as UTC; every value is kept in UTC."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        try:
            return parsed.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise self.make_error("invalid", input=value, obj_type=self.OBJ_TYPE) from None


# PostgreSQL text cannot hold NUL characters: refuse them as a 422 (documented as a pattern).
NO_NUL_CHARACTERS = validate.Regexp(r"^[^\x00]*$", error="Must not contain NUL characters.")


class QueryArgsSchema(ma.Schema):
    """Query-string arguments. Unknown ones are ignored, because ``page`` and ``page_size`` share
    the query string and the pagination decorator parses them separately."""

    class Meta:
        unknown = ma.EXCLUDE


class ScopeArgsSchema(QueryArgsSchema):
    """``?all=1`` lets an admin reach every user's objects; for anyone else it changes nothing."""

    all = fields.Boolean(
        load_default=False,
        metadata={"description": "Admins only: include every user's objects."},
    )
