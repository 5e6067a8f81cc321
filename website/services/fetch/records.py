"""Records: the list a response holds, bounded in number and size, keyed, hashed and compared."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from flask import current_app, has_app_context

from website.services.fetch.body import describe_size
from website.services.fetch.canonical import CANONICAL_ENCODER, canonical_size
from website.services.fetch.expression import select_records
from website.services.fetch.request import FetchError

__all__ = [
    "DEFAULT_RECORD_KEY",
    "Record",
    "RecordChanges",
    "RecordLimits",
    "diff_records",
    "extract_records",
    "record_key_of",
]

DEFAULT_RECORD_KEY = "id"
MAX_KEY_LENGTH = 255  # Data.record_key column size; longer keys are stored as their hash
HASHED_KEY_PREFIX = "sha256:"  # marks a key that is a hash, not the record's own value
DEFAULT_MAX_RECORDS = 100_000  # FETCH_MAX_RECORDS's default
DEFAULT_MAX_RECORDS_BYTES = 40 * 1024 * 1024  # FETCH_MAX_RECORDS_BYTES's default


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


@dataclass(frozen=True)
class RecordLimits:
    """How many records one job may keep, and how large they may be (and their expression build)."""

    max_records: int = DEFAULT_MAX_RECORDS
    max_bytes: int = DEFAULT_MAX_RECORDS_BYTES

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RecordLimits:
        return cls(int(config["FETCH_MAX_RECORDS"]), int(config["FETCH_MAX_RECORDS_BYTES"]))

    def too_many(self) -> FetchError:
        return FetchError(f"Too many records: more than {self.max_records} (FETCH_MAX_RECORDS).")

    def too_large(self) -> FetchError:
        return FetchError(
            f"The records are too large: more than {describe_size(self.max_bytes)} as JSON "
            "(FETCH_MAX_RECORDS_BYTES)."
        )


def extract_records(
    payload: Any, parameters: Mapping[str, Any], limits: RecordLimits | None = None
) -> list[Record]:
    """The records of a response, within ``limits`` (default: the app's, else the defaults).

    ``parameters["records"]`` (JMESPath) selects them; without it, a list response is the
    records and anything else is one record. ``parameters["record_key"]`` (default ``id``)
    names the field that identifies a record. Raises ``FetchError`` past a limit.
    """
    if limits is None:
        limits = (
            RecordLimits.from_config(current_app.config) if has_app_context() else RecordLimits()
        )
    expression = parameters.get("records")
    # A value held in several places (``[@, @]``) can write far more text than it takes memory,
    # so such a selection's records are measured before they are written.
    measure = False
    if expression:
        payload, measure = select_records(str(expression), payload, limits.max_bytes)
    items = payload if isinstance(payload, list) else [payload]
    if len(items) > limits.max_records:
        raise limits.too_many()  # before a single record is built
    try:
        return _records(
            items, str(parameters.get("record_key") or DEFAULT_RECORD_KEY), limits, measure
        )
    except RecursionError:
        raise FetchError("A record is nested too deeply to store.") from None
    except ValueError:
        raise FetchError(
            "A record holds a number JSON cannot represent (Infinity or NaN)."
        ) from None
    except TypeError:
        raise FetchError("The records expression produced a value that is not JSON.") from None


def _records(items: list[Any], key_field: str, limits: RecordLimits, measure: bool) -> list[Record]:
    encode, sha256 = CANONICAL_ENCODER.encode, hashlib.sha256
    left = limits.max_bytes
    records = []
    for item in items:
        if measure and canonical_size(item, left) > left:
            raise limits.too_large()
        # Serialised once: the same text gives the hash and is what gets stored.
        document = encode(item)
        left -= len(document)
        if left < 0:
            raise limits.too_large()
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
