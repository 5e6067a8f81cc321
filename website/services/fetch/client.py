"""One HTTP fetch with httpx: streaming, a body cap and one overall deadline.

PRELIMINARY: a plain bounded fetch. The fetcher work replaces the internals (address pinning,
manual redirects, conditional requests) without changing this interface.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from flask import current_app

__all__ = ["FetchError", "FetchRequest", "FetchResult", "fetch"]

FAILED = "failed"
TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class FetchRequest:
    url: str
    parameters: dict[str, Any] = field(default_factory=dict)  # validated task parameters
    timeout: float = 30.0  # one overall deadline, in seconds
    etag: str | None = None  # sent as If-None-Match
    last_modified: str | None = None  # sent as If-Modified-Since


@dataclass(frozen=True)
class FetchResult:
    status_code: int
    payload: Any  # the parsed JSON; None when not_modified
    not_modified: bool
    etag: str | None
    last_modified: str | None
    elapsed: float  # seconds


class FetchError(Exception):
    """A fetch that failed; ``message`` is short and safe to show the task's owner."""

    def __init__(self, message: str, kind: str = FAILED, http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind  # "failed" or "timed_out": the job's final status
        self.http_status = http_status


def fetch(request: FetchRequest) -> FetchResult:
    """Fetch ``request.url`` and parse its JSON body, or raise ``FetchError``."""
    max_bytes = current_app.config["FETCH_MAX_BYTES"]
    started = time.monotonic()
    method = request.parameters.get("method", "GET")
    try:
        with httpx.Client(timeout=request.timeout, follow_redirects=False) as client:
            with client.stream(
                method,
                request.url,
                params=request.parameters.get("query"),
                headers=request.parameters.get("headers"),
                json=request.parameters.get("body"),
            ) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body.extend(chunk)
                    if len(body) > max_bytes:
                        raise FetchError(f"Response larger than {max_bytes} bytes")
                    if time.monotonic() - started > request.timeout:
                        raise FetchError("Deadline exceeded", TIMED_OUT)
    except httpx.TimeoutException:
        raise FetchError(f"No response within {request.timeout:g} s", TIMED_OUT) from None
    except httpx.HTTPError as error:
        raise FetchError(f"Request failed: {type(error).__name__}") from None
    if response.status_code == 304:
        return FetchResult(304, None, True, request.etag, request.last_modified, _since(started))
    if not 200 <= response.status_code < 300:
        raise FetchError(f"HTTP {response.status_code}", http_status=response.status_code)
    try:
        payload = json.loads(body)
    except ValueError as error:
        raise FetchError(f"Invalid JSON: {error}", http_status=response.status_code) from None
    return FetchResult(
        response.status_code,
        payload,
        False,
        response.headers.get("ETag"),
        response.headers.get("Last-Modified"),
        _since(started),
    )


def _since(started: float) -> float:
    return time.monotonic() - started
