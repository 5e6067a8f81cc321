"""Files of task bodies, as `challenge tasks import` and the dashboard's Import read them."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from website.jsonio import loads_standard

__all__ = ["Entry", "error_lines", "read_task_entries"]


@dataclass(frozen=True)
class Entry:
    """One task body of a file, named as its author finds it: ``line 7`` or ``item 3``."""

    label: str
    body: Any = None
    error: str | None = None


def read_task_entries(text: str) -> list[Entry]:
    """The entries of a JSON array or of JSON Lines (blank lines skipped).

    A malformed array is a ``ValueError`` (nothing in it can be trusted); a malformed line is an
    entry with an error, and the other lines still count.
    """
    text = text.removeprefix("\ufeff")
    if text.lstrip().startswith("["):
        try:
            bodies = loads_standard(text)
        except (ValueError, RecursionError) as error:
            raise ValueError(f"the file is not a valid JSON array: {error}") from None
        if not isinstance(bodies, list):
            raise ValueError("the file is not a valid JSON array")
        return [Entry(f"item {index}", body) for index, body in enumerate(bodies)]
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            entries.append(Entry(f"line {number}", loads_standard(line)))
        except (ValueError, RecursionError) as error:
            entries.append(Entry(f"line {number}", error=f"Malformed JSON: {error}"))
    return entries


def error_lines(errors: Any, path: str = "") -> Iterator[str]:
    """``field: message`` lines of marshmallow's nested errors (an entry's report)."""
    if isinstance(errors, Mapping):
        for name, inner in errors.items():
            yield from error_lines(inner, f"{path}.{name}" if path else str(name))
    elif isinstance(errors, list) and all(isinstance(message, str) for message in errors):
        yield f"{path}: {' '.join(errors)}"
    else:
        yield f"{path}: {errors}"
