"""The headers and body a fetch sends: the fetcher's own headers, then the task's."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import httpx

from website.services.fetch.body import ACCEPT_ENCODING

__all__ = [
    "CREDENTIAL_HEADERS",
    "RESERVED_HEADERS",
    "USER_AGENT",
    "request_content",
    "request_headers",
]


def _user_agent() -> str:
    """``challenge/<version>``, plus the project's home page when the package declares one."""
    try:
        package = metadata.metadata("challenge")
    except metadata.PackageNotFoundError:
        return "challenge/0+unknown"
    urls = [entry.split(",", 1)[-1].strip() for entry in package.get_all("Project-URL") or ()]
    home = (urls or package.get_all("Home-page") or [None])[0]
    return f"challenge/{package['Version']}" + (f" (+{home})" if home else "")


USER_AGENT = _user_agent()
# Headers a task may not set (the API refuses them; the fetcher drops them from older tasks):
# the fetcher sets them itself from the URL and the body, or they belong to one connection.
RESERVED_HEADERS = frozenset(
    {
        "accept-encoding",  # only encodings the capped decoder handles
        "connection",
        "content-length",
        "host",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Sent to the origin the task names, never to another origin a redirect points at.
CREDENTIAL_HEADERS = ("authorization", "cookie")
# What every request carries unless the task's headers say otherwise (the headers an
# ``httpx.Client`` would add, with the fetcher's own values), in that order.
DEFAULT_HEADERS = (
    ("Accept", "application/json"),
    ("Accept-Encoding", ACCEPT_ENCODING),
    ("Connection", "keep-alive"),
    ("User-Agent", USER_AGENT),
)


def request_headers(
    parameters: Mapping[str, Any], etag: str | None, last_modified: str | None
) -> httpx.Headers:
    """The fetcher's headers, overridden by the task's own (reserved ones dropped)."""
    own = httpx.Headers()
    for name, value in (parameters.get("headers") or {}).items():
        if str(name).lower() not in RESERVED_HEADERS:
            own[str(name)] = str(value)
    if etag:
        own["If-None-Match"] = etag
    if last_modified:
        own["If-Modified-Since"] = last_modified
    headers = httpx.Headers(DEFAULT_HEADERS)
    headers.update(own)  # the task's own values win
    return headers


def request_content(
    method: str, parameters: Mapping[str, Any], headers: httpx.Headers
) -> bytes | None:
    """The task's ``body`` as JSON for a POST (setting its Content-Type unless the task did)."""
    if method in {"GET", "HEAD"} or "body" not in parameters:
        return None
    headers.setdefault("Content-Type", "application/json")
    return json.dumps(parameters["body"], separators=(",", ":")).encode()
