"""Following a redirect by hand: where it points, and which method and body go there."""

from __future__ import annotations

from http import HTTPStatus

import httpx

from website.services.fetch.request import FetchError

__all__ = ["REDIRECT_STATUSES", "redirect_method", "redirect_target", "same_origin"]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MALFORMED_LOCATION = "Redirect refused: the Location header is malformed."


def redirect_target(current: httpx.URL, location: str) -> str:
    """The absolute URL ``location`` points at from ``current``; raises ``FetchError``."""
    if "\\" in location or any(ord(c) < 0x20 or ord(c) == 0x7F for c in location):
        raise FetchError(MALFORMED_LOCATION)
    try:
        return str(current.join(location))
    except (httpx.InvalidURL, UnicodeError, ValueError):
        raise FetchError(MALFORMED_LOCATION) from None


def redirect_method(
    status: int, method: str, content: bytes | None, headers: httpx.Headers
) -> tuple[str, bytes | None]:
    """Browsers' rules: 303 becomes GET, and so does POST after 301/302; 307/308 keep both."""
    if (status == HTTPStatus.SEE_OTHER and method != "HEAD") or (
        status in {HTTPStatus.MOVED_PERMANENTLY, HTTPStatus.FOUND} and method == "POST"
    ):
        headers.pop("content-type", None)
        return "GET", None
    return method, content


def same_origin(current: httpx.URL, target: str) -> bool:
    following = httpx.URL(target)
    return (current.scheme, current.host, current.port) == (
        following.scheme,
        following.host,
        following.port,
    )
