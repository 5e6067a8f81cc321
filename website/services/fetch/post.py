"""One POST to a webhook receiver, under the fetcher's rules: checked and pinned addresses, one
deadline, no redirects followed, and the response's body never read (its status is the answer).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
from flask import current_app

from website.services.fetch.messages import transport_message
from website.services.fetch.pool import thread_transport
from website.services.fetch.request import TIMED_OUT, FetchError
from website.services.fetch.resolver import HostNotFound, ResolutionTimeout
from website.services.fetch.safety import HostPolicy, UnsafeURL, parse_url, vet_destination
from website.services.fetch.transport import fetch_scope

__all__ = ["PostResult", "post"]


@dataclass(frozen=True)
class PostResult:
    status_code: int
    duration: float  # seconds


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> PostResult:
    """POST ``body`` to ``url`` within ``timeout`` seconds; raise ``FetchError`` if no answer.

    Any status is an answer (the caller decides what succeeded); a redirect is not followed.
    """
    config = current_app.config
    started = time.monotonic()
    transport = thread_transport(config.get("FETCH_CA_BUNDLE"))
    with fetch_scope(started + timeout) as scope:
        where = "the host"
        try:
            destination = parse_url(url)
            where = f"{destination.host}:{destination.port}"
            addresses = vet_destination(
                destination, HostPolicy.from_config(config), scope.remaining()
            )
            scope.pin(destination.connect_host, destination.port, addresses)
            seconds = max(scope.remaining(), 0.001)
            request = httpx.Request(
                "POST",
                destination.url,
                headers=dict(headers),
                content=body,
                extensions={
                    "timeout": {
                        "connect": seconds,
                        "read": seconds,
                        "write": seconds,
                        "pool": seconds,
                    }
                },
            )
            response = transport.handle_request(request)
            response.close()  # the status is the answer: the body is never read
        except UnsafeURL as error:
            raise FetchError(error.message) from None
        except HostNotFound as error:
            raise FetchError(f"Host not found: {error}.") from None
        except (httpx.TimeoutException, ResolutionTimeout):
            raise FetchError(f"No answer within {timeout:g} s.", TIMED_OUT) from None
        except httpx.HTTPError as error:
            raise FetchError(transport_message(error, where)) from None
    return PostResult(response.status_code, time.monotonic() - started)
