"""What a fetch is asked to do, what it brings back, and how it fails."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["FAILED", "TIMED_OUT", "FetchError", "FetchRequest", "FetchResult"]

FAILED = "failed"  # the job's final status for every failure but the deadline
TIMED_OUT = "timed_out"  # the job's final status when the deadline passed


@dataclass(frozen=True)
class FetchRequest:
    url: str
    parameters: dict[str, Any] = field(default_factory=dict)  # validated task parameters
    timeout: float = 30.0  # one overall deadline, in seconds
    etag: str | None = None  # sent as If-None-Match
    last_modified: str | None = None  # sent as If-Modified-Since
    task_id: int | None = None  # for log records only
    job_id: int | None = None  # for log records only


@dataclass(frozen=True)
class FetchResult:
    status_code: int
    payload: Any  # the parsed JSON; None when not_modified
    not_modified: bool
    etag: str | None  # validators to send next time (those sent, after a 304)
    last_modified: str | None
    elapsed: float  # seconds
    url: str = ""  # the URL that answered, after redirects
    redirects: int = 0  # redirects followed
    size: int = 0  # decoded body bytes


class FetchError(Exception):
    """A fetch that failed; ``message`` is short and safe to show the task's owner."""

    def __init__(self, message: str, kind: str = FAILED, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind  # "failed" or "timed_out": the job's final status
        self.http_status = http_status
