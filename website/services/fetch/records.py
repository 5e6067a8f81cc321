"""Records: the list a response holds (selected by JMESPath), keyed and hashed."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError

from website.services.fetch.client import FetchError

__all__ = ["Record", "RecordChanges", "diff_records", "extract_records"]

DEFAULT_RECORD_KEY = "id"


@dataclass(frozen=True)
class Record:
    key: str | None
    payload: Any
    content_hash: str


@dataclass(frozen=True)
class RecordChanges:
    added: int
    changed: int
    removed: int


def content_hash(payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def extract_records(payload: Any, parameters: Mapping[str, Any]) -> list[Record]:
    """The records of a response: ``parameters["records"]`` selects them (JMESPath)."""
    expression = parameters.get("records")
    if expression:
        try:
            payload = jmespath.search(expression, payload)
        except JMESPathError as error:
            raise FetchError(f"Records expression failed: {error}") from None
    items = payload if isinstance(payload, list) else [payload]
    key_field = parameters.get("record_key", DEFAULT_RECORD_KEY)
    records = []
    for item in items:
        key = item.get(key_field) if isinstance(item, dict) else None
        records.append(Record(None if key is None else str(key), item, content_hash(item)))
    return records


def diff_records(previous: Mapping[str, str], current: list[Record]) -> RecordChanges:
    """Compare by key and hash against the previous successful job's ``{key: hash}``."""
    seen = {record.key: record.content_hash for record in current if record.key is not None}
    added = sum(1 for key in seen if key not in previous)
    changed = sum(1 for key, digest in seen.items() if key in previous and previous[key] != digest)
    removed = sum(1 for key in previous if key not in seen)
    return RecordChanges(added, changed, removed)
