"""A task's ``parameters``: how to build its request and how to read records from the response."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import jmespath
import marshmallow as ma
from jmespath.exceptions import JMESPathError
from marshmallow import fields, validate

from website.jsonio import loads_standard
from website.schemas import StrictSchema
from website.services.fetch import RESERVED_HEADERS

__all__ = [
    "FORBIDDEN_HEADERS",
    "TaskParametersField",
    "TaskParametersSchema",
]

FORBIDDEN_HEADERS = RESERVED_HEADERS  # the fetcher's own list: what it would drop, refused here
# Whole-string patterns: ``$`` would also match before a trailing newline ("Host\n").
HEADER_NAME = re.compile(r"\A[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")  # an RFC 9110 token
HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*")  # visible ASCII, space and tab: no CR, LF or NUL
HEADER_VALUE_PATTERN = r"^[\t\x20-\x7e]*$"  # the same, as OpenAPI (ECMA-262) reads a pattern
MAX_HEADER_VALUE_LENGTH = 8192  # what common servers accept for one header line
MAX_EXPRESSION_LENGTH = 1000  # a JMESPath expression; real ones are a few dozen characters
MAX_RECORD_KEY_LENGTH = 255  # the width of data.record_key
METHODS = ("GET", "POST")
QUERY_SCALAR_TYPES = (str, int, float, bool)

_QUERY_VALUE_DOC: dict[str, Any] = {
    "oneOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {
            "type": "array",
            "items": {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]},
        },
    ]
}


def _header_errors(headers: Mapping[str, str]) -> dict[str, list[str]]:
    errors = {}
    for name in headers:
        if not HEADER_NAME.fullmatch(name):
            errors[name] = ["Not a valid header name."]
        elif name.lower() in FORBIDDEN_HEADERS:
            errors[name] = ["This header is managed by the fetcher."]
    return errors


def _validate_header_value(value: str) -> None:
    if not HEADER_VALUE.fullmatch(value):
        raise ma.ValidationError("Not a valid header value.")


def _validate_expression(expression: str) -> None:
    try:
        jmespath.compile(expression)
    except (JMESPathError, ValueError, TypeError) as error:
        raise ma.ValidationError(f"Not a valid JMESPath expression: {error}") from None
    except RecursionError:  # the parser recurses once per level of nesting
        raise ma.ValidationError("Not a valid JMESPath expression: nested too deeply.") from None


class QueryValueField(fields.Field):
    """One query parameter's value: a string, number or boolean, or a list of them."""

    default_error_messages = {"invalid": "Must be a string, number, boolean, or a list of them."}

    def __init__(self) -> None:
        super().__init__(metadata=_QUERY_VALUE_DOC)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, QUERY_SCALAR_TYPES) for item in values):
            raise self.make_error("invalid")
        return value


class TaskParametersSchema(StrictSchema):
    """How to fetch the URL and which records to keep; any other key is refused."""

    query = fields.Dict(
        keys=fields.String(),
        values=QueryValueField(),
        metadata={"description": "Added to the URL's query string."},
    )
    headers = fields.Dict(
        keys=fields.String(),
        values=fields.String(
            validate=[validate.Length(max=MAX_HEADER_VALUE_LENGTH), _validate_header_value],
            metadata={"pattern": HEADER_VALUE_PATTERN},
        ),
        metadata={
            "description": "Request headers. Hop-by-hop headers, Host, Content-Length and "
            "Accept-Encoding are refused."
        },
    )
    method = fields.String(validate=validate.OneOf(METHODS), metadata={"default": "GET"})
    body = fields.Raw(
        allow_none=True,
        metadata={"description": "A JSON body, sent with method POST only."},
    )
    records = fields.String(
        validate=[
            validate.Length(min=1, max=MAX_EXPRESSION_LENGTH),
            _validate_expression,
        ],
        metadata={
            "description": "A JMESPath expression selecting the list of records from the "
            "response. Default: the response if it is a list, else one record."
        },
    )
    record_key = fields.String(
        validate=validate.Length(min=1, max=MAX_RECORD_KEY_LENGTH),
        metadata={"description": "The field that identifies a record.", "default": "id"},
    )

    @ma.validates_schema
    def _check_entries(self, data: dict[str, Any], **_kwargs: Any) -> None:
        # Errors name the offending header, e.g. {"headers": {"Host": [...]}}.
        errors: dict[str, Any] = {}
        if header_errors := _header_errors(data.get("headers", {})):
            errors["headers"] = header_errors
        if "body" in data and data.get("method", "GET") != "POST":
            errors["body"] = ["A body is sent with method POST only."]
        if errors:
            raise ma.ValidationError(errors)


# Built once: building a schema costs more than loading a small object with it.
_PARAMETERS_SCHEMA = TaskParametersSchema()


class TaskParametersField(fields.Field):
    """``parameters`` as an object, or as a JSON-encoded string of one (as older clients send)."""

    default_error_messages = {
        "invalid": "Must be an object, or a string holding a JSON object.",
    }

    def __init__(self, **kwargs: Any) -> None:
        # Documented as the object only: OpenAPI 3.0 cannot say "a string holding valid JSON".
        metadata = {
            "allOf": [{"$ref": "#/components/schemas/TaskParameters"}],
            "description": "How to fetch and read the URL. A string holding the same object "
            'as JSON (e.g. "{}") is accepted too.',
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            try:
                value = loads_standard(value)
            except (ValueError, RecursionError):
                raise self.make_error("invalid") from None
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        return _PARAMETERS_SCHEMA.load(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value
