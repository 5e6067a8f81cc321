"""Building blocks shared by the API's schemas: UTC datetimes, safe text, query arguments, dumps."""

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
    "StrictBoolean",
    "UTCDateTime",
]


class StrictBoolean(fields.Boolean):
    """A JSON true or false only, in request bodies: marshmallow's Boolean also takes 0, 1, "yes"
    and the like, which a client sending them almost certainly did not mean as a boolean."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


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
_ISO_FORMATS = (None, "iso")  # a DateTime's format once bound to its schema; None for others
# One field's dump: its key, the attribute read (or the field's name), the conversion of a
# non-null value, and the field itself when it dumps the value through its own ``serialize``.
_Step = tuple[str, str, Callable[[Any], Any] | None, fields.Field | None]


class FastDumpSchema(ma.Schema):
    """An output schema whose ``dump`` reads each declared field straight from the object.

    Fields of the exact types in ``_CONVERSIONS`` (without ``as_string`` or a custom format) get
    the conversion marshmallow applies; any other field goes through its own ``serialize``. The
    schema must declare no dump hooks. Why it exists: docs/benchmarks.md, "Speed-only
    constructs that stay".
    """

    def dump(self, obj: Any, *, many: bool | None = None) -> Any:
        steps = [self._step(name, field) for name, field in self.dump_fields.items()]
        if self.many if many is None else many:
            return [self._dump_one(item, steps) for item in obj]
        return self._dump_one(obj, steps)

    @staticmethod
    def _step(name: str, field: fields.Field) -> _Step:
        key, attribute = field.data_key or name, field.attribute or name
        direct = (
            type(field) in _CONVERSIONS
            and "." not in attribute
            and not getattr(field, "as_string", False)
            and getattr(field, "format", None) in _ISO_FORMATS
        )
        if direct:
            return key, attribute, _CONVERSIONS[type(field)], None
        return key, name, None, field

    def _dump_one(self, obj: Any, steps: Iterable[_Step]) -> dict[str, Any]:
        dumped = {}
        for key, attribute, convert, field in steps:
            if field is not None:
                dumped[key] = field.serialize(attribute, obj, accessor=self.get_attribute)
                continue
            value = getattr(obj, attribute)
            dumped[key] = value if value is None or convert is None else convert(value)
        return dumped
