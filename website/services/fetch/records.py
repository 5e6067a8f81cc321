"""Records: the list a response holds (selected by JMESPath), keyed, hashed and compared."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from json import encoder as json_encoder
from typing import Any, NamedTuple

import jmespath
from jmespath import exceptions as jmespath_errors
from jmespath.parser import ParsedResult

from website.services.fetch.request import FetchError

__all__ = [
    "DEFAULT_RECORD_KEY",
    "Record",
    "RecordChanges",
    "canonical_json",
    "compile_records_expression",
    "content_hash",
    "diff_records",
    "extract_records",
    "record_key_of",
]

DEFAULT_RECORD_KEY = "id"
MAX_KEY_LENGTH = 255  # Data.record_key column size; longer keys are stored as their hash
HASHED_KEY_PREFIX = "sha256:"  # marks a key that is a hash, not the record's own value
COMPILED_EXPRESSIONS = 256  # distinct records expressions kept compiled per process


class Record(NamedTuple):
    """One record of a response (a tuple: a job builds dozens of them)."""

    key: str | None  # the record_key field's value, or the content hash when it has none
    payload: Any
    content_hash: str
    document: str = ""  # the canonical JSON of ``payload``: hashed, and stored as it is


@dataclass(frozen=True)
class RecordChanges:
    added: int
    changed: int
    removed: int


def _canonical_encoder() -> Callable[[Any], str]:
    """``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)``, faster.

    ``json.dumps`` builds a new encoder for every call, which costs several times the encoding of
    a small record. CPython's C encoder, made once, gives the same text (checked here) at a
    quarter of the cost; any other interpreter, or a change in that private interface, falls
    back to ``json.dumps``.
    """

    def dumps(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

    make = getattr(json_encoder, "c_make_encoder", None)  # None without CPython's _json
    if make is None:
        return dumps
    try:
        encode = make(
            None,  # no circular-reference markers: parsed JSON has no cycles
            json.JSONEncoder().default,
            json_encoder.encode_basestring_ascii,
            None,
            ":",
            ",",
            True,  # sort_keys
            False,  # skipkeys
            True,  # allow_nan (parse_json already refuses NaN and Infinity)
        )

        def fast(value: Any) -> str:
            return "".join(encode(value, 0))

        sample = {"b": [1, 2.5, None, True, "caf\u00e9\ud800"], "a": {"y": {}, "x": []}}
        if fast(sample) != dumps(sample):
            return dumps
    except Exception:  # any surprise from a private interface means: do not use it
        return dumps
    return fast


_encode_canonical = _canonical_encoder()


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value``: sorted keys, no spaces, ASCII."""
    return _encode_canonical(value)


def content_hash(payload: Any) -> str:
    """SHA-256 of the canonical JSON (sorted keys, no spaces, ASCII): equal data, equal hash."""
    return _hash_of(canonical_json(payload))


def _hash_of(document: str) -> str:
    return hashlib.sha256(document.encode("ascii")).hexdigest()


@lru_cache(maxsize=COMPILED_EXPRESSIONS)
def compile_records_expression(expression: str) -> ParsedResult:
    """The compiled JMESPath ``expression``; raises ``ValueError`` saying where it is wrong."""
    try:
        return jmespath.compile(expression)
    except jmespath_errors.JMESPathError as error:
        position = getattr(error, "lex_position", None)
        where = f" at column {position + 1}" if isinstance(position, int) else ""
        raise ValueError(f"Invalid JMESPath expression{where}.") from None


def extract_records(payload: Any, parameters: Mapping[str, Any]) -> list[Record]:
    """The records of a response.

    ``parameters["records"]`` (JMESPath) selects them; without it, a list response is the
    records and anything else is one record. ``parameters["record_key"]`` (default ``id``)
    names the field that identifies a record.
    """
    expression = parameters.get("records")
    if expression:
        payload = _select(str(expression), payload)
    items = payload if isinstance(payload, list) else [payload]
    key_field = str(parameters.get("record_key") or DEFAULT_RECORD_KEY)
    encode, sha256 = _encode_canonical, hashlib.sha256
    records = []
    for item in items:
        # Serialised once: the same text gives the hash and is what gets stored.
        document = encode(item)
        digest = sha256(document.encode("ascii")).hexdigest()
        key = None
        if isinstance(item, dict):
            value = item.get(key_field)
            # The common cases inline (a job has dozens of records); the rest in record_key_of.
            if type(value) is str:
                key = value
            elif type(value) is int:
                key = str(value)
            if (key is None and value is not None) or (key and len(key) > MAX_KEY_LENGTH):
                key = record_key_of(item, key_field)
        records.append(Record(key or digest, item, digest, document))
    return records


def _select(expression: str, payload: Any) -> Any:
    try:
        compiled = compile_records_expression(expression)
    except ValueError as error:
        raise FetchError(f"Records expression: {error}") from None
    try:
        selected = compiled.search(payload)
    except jmespath_errors.JMESPathTypeError as error:
        raise FetchError(
            f"Records expression failed: {error.function_name}() got a {error.actual_type}."
        ) from None
    except jmespath_errors.JMESPathError:
        raise FetchError("Records expression failed on this response.") from None
    if selected is None:
        raise FetchError("Records expression selected nothing in this response.")
    return selected


def record_key_of(item: Any, key_field: str) -> str | None:
    """The record's key as text (``7`` -> ``"7"``), or None when it has none."""
    if not isinstance(item, dict) or item.get(key_field) is None:
        return None
    value = item[key_field]
    if isinstance(value, str):
        key = value
    elif type(value) is int:  # the common case; json.dumps writes an int as str() does
        key = str(value)
    else:
        key = json.dumps(value, sort_keys=True, ensure_ascii=True)
    if len(key) > MAX_KEY_LENGTH:
        return HASHED_KEY_PREFIX + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def diff_records(previous: Mapping[str, str], current: list[Record]) -> RecordChanges:
    """Added, changed and removed records against the previous successful job's ``{key: hash}``.

    Records are matched by key; a record is changed when its content hash differs. When a key
    repeats within one response, its last record counts.
    """
    seen = {record.key: record.content_hash for record in current if record.key is not None}
    before = {key: digest for key, digest in previous.items() if key is not None}
    added = sum(1 for key in seen if key not in before)
    changed = sum(1 for key, digest in seen.items() if key in before and before[key] != digest)
    removed = sum(1 for key in before if key not in seen)
    return RecordChanges(added, changed, removed)
