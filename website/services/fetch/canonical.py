"""Canonical JSON (sorted keys, no spaces, ASCII escapes): how a record is stored and hashed."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "canonical_size", "content_hash"]

# json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True), built once: dumps
# builds a new encoder on every call. NaN and infinities are refused (neither JSON nor PostgreSQL
# has them). Parsed JSON and JMESPath results hold no cycles, so none are looked for; a cycle
# would end in RecursionError like any too deep value.
CANONICAL_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False, check_circular=False
)
NON_FINITE_SIZE = len("-Infinity")  # the longest text JSON encoders write for a float they refuse
LITERAL_SIZES = {None: len("null"), True: len("true"), False: len("false")}


def canonical_json(value: Any) -> str:
    """The canonical JSON text of ``value``; raises ``ValueError`` for NaN or an infinity."""
    return CANONICAL_ENCODER.encode(value)


def content_hash(payload: Any) -> str:
    """SHA-256 of the canonical JSON: equal data, equal hash, whatever the key order or spacing."""
    return hashlib.sha256(canonical_json(payload).encode("ascii")).hexdigest()


def canonical_size(value: Any, limit: int) -> int:
    """The length of ``canonical_json(value)``, or a number above ``limit`` once it passes it.

    Counted without building the text. A JMESPath result can hold one part many times
    (``[@,@]|[@,@]|...``): each list and object is measured once (by identity), so such a value
    costs as many steps as it has distinct parts, not as many as its text has bytes.
    """
    if type(value) is not list and type(value) is not dict:
        return _scalar_size(value)
    sizes: dict[int, int] = {}  # id() -> size of each list and object measured so far
    # One frame per open list or object: [container, its remaining children, size so far].
    frames: list[list[Any]] = [_frame(value)]
    while frames:
        frame = frames[-1]
        for child in frame[1]:
            kind = type(child)
            if kind is list or kind is dict:
                known = sizes.get(id(child))
                if known is None:
                    frames.append(_frame(child))
                    break
                frame[2] += known
            else:
                frame[2] += _scalar_size(child)
            if frame[2] > limit:
                return int(frame[2])
        else:
            frames.pop()
            size = frame[2]
            sizes[id(frame[0])] = size
            if frames:
                frames[-1][2] += size
            if size > limit or (frames and frames[-1][2] > limit):
                return limit + 1
            if not frames:
                return int(size)
    return limit + 1  # not reached: the loop returns when the outermost frame closes


def _frame(container: list[Any] | dict[str, Any]) -> list[Any]:
    """A list's or object's brackets, separators and (for an object) keys, and its children."""
    count = len(container)
    size = 2 + max(count - 1, 0)
    if type(container) is dict:
        size += count + sum(_string_size(key) if type(key) is str else 2 for key in container)
        return [container, iter(container.values()), size]
    return [container, iter(container), size]


def _scalar_size(item: Any) -> int:
    kind = type(item)
    if kind is str:
        return _string_size(item)
    if kind is int:
        return len(int.__repr__(item))
    if kind is float:
        text = float.__repr__(item)
        return len(text) if text[-1].isdigit() else NON_FINITE_SIZE
    if item is None or kind is bool:
        return LITERAL_SIZES[item]
    return len(str(item)) + 2  # not JSON (a JMESPath function reference): to_string writes str()


def _string_size(text: str) -> int:
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return len(text) + 2  # nothing to escape: the common case, without building the escape
    return len(CANONICAL_ENCODER.encode(text))
