"""The fetcher: fetch a task's URL safely, parse its JSON, and extract keyed records.

This package's public interface (used by the engine and the task API):

- ``FetchRequest`` / ``FetchResult`` / ``FetchError``: one HTTP fetch and its outcome.
- ``fetch(request)``: perform it with the current app's settings (raises ``FetchError``).
- ``validate_task_url(url)``: the host-safety check run when a task is created or updated
  (raises ``website.errors.InvalidInput`` naming the ``url`` field).
- ``Record`` / ``extract_records(payload, parameters)``: the records a response holds.
- ``RecordChanges`` / ``diff_records(previous, current)``: added, changed and removed counts.
"""

from website.services.fetch.client import FetchError, FetchRequest, FetchResult, fetch
from website.services.fetch.records import (
    Record,
    RecordChanges,
    diff_records,
    extract_records,
)
from website.services.fetch.safety import validate_task_url

__all__ = [
    "FetchError",
    "FetchRequest",
    "FetchResult",
    "Record",
    "RecordChanges",
    "diff_records",
    "extract_records",
    "fetch",
    "validate_task_url",
]
