"""A task's ``parameters``: how to build its request and how to read records from the response."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import jmespath
import marshmallow as ma
from jmespath.exceptions import JMESPathError
from marshmallow import fields, validate

from website.schemas import StrictSchema
from website.schemas.common import reject_nul_characters

__all__ = ["FORBIDDEN_HEADERS", "TaskParametersField", "TaskParametersSchema"]

# Hop-by-hop headers belong to one connection, not to the request; Host and Content-Length are
# set by the fetcher from the URL and the body. A task may not send any of these.
FORBIDDEN_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an RFC 9110 token
HEADER_VALUE_PATTERN = r"^[\t\x20-\x7e]*$"  # visible ASCII, space and tab: no CR, LF or NUL
MAX_HEADER_VALUE_LENGTH = 8192  # what common servers accept for one header line
MAX_HEADERS = 50
MAX_QUERY_PARAMETERS = 100
MAX_EXPRESSION_LENGTH = 1000  # a JMESPath expression; real ones are a few dozen characters
MAX_RECORD_KEY_LENGTH = 255  # the width of data.record_key
METHODS = ("GET", "POST")
QUERY_SCALAR_TYPES = (str, int, float, bool)

_QUERY_VALUE_DOC = {
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


def _query_errors(query: Mapping[str, Any]) -> dict[str, list[str]]:
    errors = {}
    for name, value in query.items():
        values = value if isinstance(value, list) else [value]
        if not all(isinstance(item, QUERY_SCALAR_TYPES) for item in values):
            errors[name] = ["Must be a string, number, boolean, or a list of them."]
        elif "\x00" in name or any(isinstance(item, str) and "\x00" in item for item in values):
            errors[name] = ["Must not contain NUL characters."]
    return errors


def _header_errors(headers: Mapping[str, str]) -> dict[str, list[str]]:
    errors = {}
    for name in headers:
        if not HEADER_NAME.match(name):
            errors[name] = ["Not a valid header name."]
        elif name.lower() in FORBIDDEN_HEADERS:
            errors[name] = ["This header is managed by the fetcher."]
    return errors


def _validate_expression(expression: str) -> None:
    try:
        jmespath.compile(expression)
    except (JMESPathError, ValueError, TypeError) as error:
        raise ma.ValidationError(f"Not a valid JMESPath expression: {error}") from None


class TaskParametersSchema(StrictSchema):
    """How to fetch the URL and which records to keep; any other key is refused."""

    query = fields.Dict(
        keys=fields.String(),
        values=fields.Raw(),
        validate=validate.Length(max=MAX_QUERY_PARAMETERS),
        metadata={
            "description": "Added to the URL's query string.",
            "additionalProperties": _QUERY_VALUE_DOC,
        },
    )
    headers = fields.Dict(
        keys=fields.String(),
        values=fields.String(
            validate=[
                validate.Length(max=MAX_HEADER_VALUE_LENGTH),
                validate.Regexp(HEADER_VALUE_PATTERN, error="Not a valid header value."),
            ]
        ),
        validate=validate.Length(max=MAX_HEADERS),
        metadata={
            "description": "Request headers. Hop-by-hop headers, Host and Content-Length are "
            "refused."
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
            reject_nul_characters,
            _validate_expression,
        ],
        metadata={
            "description": "A JMESPath expression selecting the list of records from the "
            "response. Default: the response if it is a list, else one record."
        },
    )
    record_key = fields.String(
        validate=[validate.Length(min=1, max=MAX_RECORD_KEY_LENGTH), reject_nul_characters],
        metadata={"description": "The field that identifies a record.", "default": "id"},
    )

    @ma.validates_schema
    def _check_entries(self, data: dict[str, Any], **_kwargs: Any) -> None:
        # Errors name the offending query parameter or header, e.g. {"headers": {"Host": [...]}}.
        errors: dict[str, Any] = {}
        if query_errors := _query_errors(data.get("query", {})):
            errors["query"] = query_errors
        if header_errors := _header_errors(data.get("headers", {})):
            errors["headers"] = header_errors
        if "body" in data and data.get("method", "GET") != "POST":
            errors["body"] = ["A body is sent with method POST only."]
        if errors:
            raise ma.ValidationError(errors)


class TaskParametersField(fields.Field):
    """``parameters`` as an object, or as a JSON-encoded string of one (as older clients send)."""

    default_error_messages = {
        "invalid": "Must be an object, or a string holding a JSON object.",
    }

    def __init__(self, **kwargs: Any) -> None:
        metadata = {
            "oneOf": [
                {"$ref": "#/components/schemas/TaskParameters"},
                {"type": "string", "description": "The same object, JSON-encoded."},
            ],
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except (ValueError, RecursionError):
                raise self.make_error("invalid") from None
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        return TaskParametersSchema().load(value)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value
