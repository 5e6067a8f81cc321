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
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

__all__ = ["JSONProvider", "NotJSONNumber", "loads", "loads_standard"]

# 19 digits in a row may be an integer beyond 64 bits (or part of a long string of digits, which
# is then merely read more slowly).
_LONG_DIGITS = re.compile("[0-9]{19}")
_LONG_DIGITS_BYTES = re.compile(rb"[0-9]{19}")

COMPACT_SEPARATORS = (",", ":")  # what orjson writes
# Datetimes go to Flask's ``default`` (an HTTP date, as plain Flask writes them), not orjson's ISO.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME


def loads(text: str | bytes) -> Any:
    """The value of JSON text, exactly as ``json.loads`` reads it (the database's JSON columns)."""
    pattern = _LONG_DIGITS if isinstance(text, str) else _LONG_DIGITS_BYTES
    if pattern.search(text) is None:  # type: ignore[arg-type]
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


class NotJSONNumber(ValueError):
    """A number that JSON cannot hold: NaN, Infinity, -Infinity, or one beyond a float's range."""


def _refuse_constant(name: str) -> Any:
    raise NotJSONNumber(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # e.g. 1e999, which float() reads as infinity
        raise NotJSONNumber(f"{text} is beyond the range of a number")
    return number


def loads_standard(text: str | bytes | bytearray) -> Any:
    """The value of JSON text as RFC 8259 defines it (request bodies, and JSON sent as a string).

    ``json.loads`` also reads NaN, Infinity and -Infinity, and reads 1e999 as infinity: none of
    them is JSON, PostgreSQL refuses them and a JSON column on SQLite would keep text that no
    JSON parser reads back. They raise ``NotJSONNumber`` here, a ``ValueError``.
    """
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON provider, encoding through orjson when it gives the same JSON."""

    sort_keys = False  # key order is the schema's; sorting every response costs for nothing

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        # Flask's response() asks for compact separators, which is all orjson writes; any other
        # option (e.g. the indentation of a pretty-printed response) is the standard library's.
        if kwargs and kwargs != {"separators": COMPACT_SEPARATORS}:
            return super().dumps(obj, **kwargs)
        try:
            return orjson.dumps(obj, default=self.default, option=_PASSTHROUGH).decode()
        except (TypeError, orjson.JSONEncodeError):
            return super().dumps(obj, separators=COMPACT_SEPARATORS)
