"""URL and host safety: only http(s), and no private addresses unless configured.

PRELIMINARY: scheme and host checks only; the fetcher work adds the address checks.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from website.errors import InvalidInput

__all__ = ["validate_task_url"]

MAX_URL_LENGTH = 2048


def validate_task_url(url: str) -> None:
    """Refuse a URL a task may not fetch, with a 422 naming the ``url`` field."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput("Invalid URL", {"url": [f"At most {MAX_URL_LENGTH} characters."]})
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput("Invalid URL", {"url": ["Must be an http(s) URL with a host."]})
