"""Building blocks shared by the task and job schemas: UTC datetimes, safe text, query arguments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

__all__ = [
    "NO_NUL_CHARACTERS",
    "FastDumpSchema",
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


# The conversion marshmallow applies to a non-null value of each of these field types, exactly.
_CONVERSIONS: dict[type[fields.Field], Callable[[Any], Any] | None] = {
    fields.String: str,
    fields.Integer: int,
    fields.Float: float,
    fields.Boolean: None,  # sent as it is
    fields.Raw: None,
    UTCDateTime: dt.datetime.isoformat,
}


class FastDumpSchema(ma.Schema):
    """An output schema whose ``dump`` reads each declared field straight from the object.

    Fields of the exact types in ``_CONVERSIONS`` (without ``as_string`` or a custom format) get
    the same conversion as marshmallow applies; any other field goes through its own
    ``serialize``. The schema must declare no dump hooks. docs/benchmarks.md ("Speed-only
    constructs that stay") has why.
    """

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        plan = [self._dump_step(name, field) for name, field in self.dump_fields.items()]
        if self.many if many is None else many:
            return [self._dump_one(item, plan) for item in obj]
        return self._dump_one(obj, plan)

    def _dump_step(
        self, name: str, field: fields.Field
    ) -> tuple[str, str, Callable[[Any], Any] | None, fields.Field | None]:
        key, attribute = field.data_key or name, field.attribute or name
        simple = type(field) in _CONVERSIONS and "." not in attribute
        if (
            simple
            and not getattr(field, "as_string", False)
            and getattr(field, "format", None)
            in (
                None,
                "iso",
            )
        ):
            return key, attribute, _CONVERSIONS[type(field)], None
        return key, name, None, field

    def _dump_one(
        self,
        obj: Any,
        plan: Iterable[tuple[str, str, Callable[[Any], Any] | None, fields.Field | None]],
    ) -> dict[str, Any]:
        dumped = {}
        for key, attribute, convert, field in plan:
            if field is not None:
                dumped[key] = field.serialize(attribute, obj, accessor=self.get_attribute)
                continue
            value = getattr(obj, attribute)
            dumped[key] = value if value is None or convert is None else convert(value)
        return dumped
