"""JSON through orjson where it gives the same values: API responses and reading JSON columns.

orjson encodes and decodes several times faster than the standard library, and JSON is much of
what a listing or a status costs (50 tasks, or 50 records, per response). Where it would differ,
the standard library still does the work:

- reading: orjson turns an integer beyond 64 bits (a fetched record may hold one) into a float.
  Text with a run of 19 or more digits is read by ``json`` instead, so every integer comes back
  exact; so is anything orjson refuses (e.g. a number too large for a float, read as infinity);
- writing responses: integers beyond 64 bits and dict keys that are not strings make orjson
  refuse, and the value goes through ``json``. A float that is not finite (never stored by the
  fetcher, which refuses NaN and Infinity) is written as null, valid JSON, where ``json`` would
  write a token no JSON parser accepts;
- datetimes, which orjson would write its own way, go to Flask's usual ``default``, so a response
  shows them exactly as plain Flask would (dataclasses, UUIDs, str and int subclasses come out
  the same either way);
- a pretty-printed response (debug mode) is left to Flask.

Stored JSON that a response shows unchanged (a status's records) travels as ``RawJSON``: orjson
writes its text into the response as it is, without reading it into Python values first.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator
from werkzeug.sansio.response import Response as BaseResponse

__all__ = ["JSONProvider", "RawJSON", "RawJSONText", "loads"]

# 19 digits in a row may be an integer beyond 64 bits (or part of a long string of digits, which
# is then merely read more slowly).
_LONG_DIGITS = re.compile("[0-9]{19}")
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{19}")

# Datetimes go to Flask's ``default`` (an HTTP date, as plain Flask writes them), not orjson's ISO.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME


class RawJSON:
    """Valid JSON text (e.g. as the database stores it) that a response includes as it is.

    Not a dataclass: orjson would write a dataclass as an object of its fields.
    """

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return f"RawJSON({self.text!r})"


class RawJSONText(TypeDecorator[RawJSON]):
    """A JSON column read as its text, wrapped in ``RawJSON``: ``cast(column, RawJSONText())``.

    For values a response shows unchanged: they are never read into Python values.
    """

    impl = Text
    cache_ok = True

    def process_result_value(self, value: str | None, dialect: Dialect) -> RawJSON | None:
        return None if value is None else RawJSON(value)


def loads(text: str | bytes) -> Any:
    """The value of JSON text, exactly as ``json.loads`` reads it (the database's JSON columns)."""
    pattern = _LONG_DIGITS if isinstance(text, str) else _LONG_DIGITS_BYTES
    if pattern.search(text) is None:  # type: ignore[arg-type]
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, encoding through orjson when it gives the same JSON."""

    sort_keys = False  # key order is the schema's; sorting every response costs for nothing

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:
            return super().dumps(obj, **kwargs)
        return self._encode(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        if self.compact is False or (self.compact is None and self._app.debug):
            return super().response(*args, **kwargs)
        body = self._encode(self._prepare_response_obj(args, kwargs))
        response_class: type[Response] = self._app.response_class  # type: ignore[assignment]
        return response_class(body + b"\n", mimetype=self.mimetype)

    def _encode(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self._orjson_default, option=_PASSTHROUGH)
        except (TypeError, orjson.JSONEncodeError):
            return super().dumps(obj, separators=(",", ":"), default=self._json_default).encode()

    def _orjson_default(self, obj: Any) -> Any:
        if isinstance(obj, RawJSON):
            return orjson.Fragment(obj.text)
        return self.default(obj)

    def _json_default(self, obj: Any) -> Any:
        if isinstance(obj, RawJSON):
            return loads(obj.text)
        return self.default(obj)
