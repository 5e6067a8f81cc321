"""One fetch: checked hops, redirects by hand, a capped body and one overall deadline."""

from __future__ import annotations

import logging
import time
from http import HTTPStatus
from typing import Any

import httpx
from flask import current_app

from website.services.fetch.body import BodyError, read_capped_body
from website.services.fetch.headers import CREDENTIAL_HEADERS, request_content, request_headers
from website.services.fetch.messages import status_message, transport_message
from website.services.fetch.payload import parse_json
from website.services.fetch.pool import thread_transport
from website.services.fetch.redirects import (
    REDIRECT_STATUSES,
    redirect_method,
    redirect_target,
    same_origin,
)
from website.services.fetch.request import TIMED_OUT, FetchError, FetchRequest, FetchResult
from website.services.fetch.resolver import HostNotFound, ResolutionTimeout
from website.services.fetch.safety import (
    Destination,
    HostPolicy,
    UnsafeURL,
    parse_url,
    vet_destination,
)
from website.services.fetch.transport import FetchScope, fetch_scope

__all__ = ["fetch"]

logger = logging.getLogger(__name__)

MAX_ETAG_LENGTH = 512  # Task.etag column size; a longer validator is not kept
MAX_LAST_MODIFIED_LENGTH = 64  # Task.last_modified column size


def fetch(request: FetchRequest) -> FetchResult:
    """Fetch ``request.url`` and parse its JSON body, or raise ``FetchError``."""
    config = current_app.config
    started = time.monotonic()
    run = _Fetch(
        request,
        transport=thread_transport(config.get("FETCH_CA_BUNDLE")),
        policy=HostPolicy.from_config(config),
        max_bytes=int(config["FETCH_MAX_BYTES"]),
        max_redirects=int(config["FETCH_MAX_REDIRECTS"]),
    )
    with fetch_scope(started + request.timeout) as scope:
        try:
            return run.perform(scope, started)
        except (httpx.TimeoutException, ResolutionTimeout):
            raise FetchError(
                f"No complete response within {request.timeout:g} s.", TIMED_OUT
            ) from None
        except httpx.HTTPError as error:
            raise FetchError(transport_message(error, run.where())) from None


class _Fetch:
    """The state of one fetch while it follows redirects."""

    def __init__(
        self,
        request: FetchRequest,
        transport: httpx.BaseTransport,
        policy: HostPolicy,
        max_bytes: int,
        max_redirects: int,
    ) -> None:
        self.request = request
        self.transport = transport
        self.policy = policy
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.destination: Destination | None = None  # the hop being fetched
        self.log_extra = {"task_id": request.task_id, "job_id": request.job_id}

    def perform(self, scope: FetchScope, started: float) -> FetchResult:
        response, redirects = self.send_following_redirects(scope)
        try:
            status = response.status_code
            etag = _validator(response.headers.get("etag"), MAX_ETAG_LENGTH)
            last_modified = _validator(
                response.headers.get("last-modified"), MAX_LAST_MODIFIED_LENGTH
            )
            if status == HTTPStatus.NOT_MODIFIED and self._was_conditional():
                return FetchResult(
                    status,
                    None,
                    True,
                    etag or self.request.etag,
                    last_modified or self.request.last_modified,
                    time.monotonic() - started,
                    str(response.url),
                    redirects,
                )
            if not 200 <= status < 300:
                raise FetchError(status_message(status), http_status=status)
            try:
                body = read_capped_body(response, self.max_bytes)
            except BodyError as error:
                raise FetchError(error.message, http_status=status) from None
        finally:
            response.close()
        payload = parse_json(body, status)
        return FetchResult(
            status,
            payload,
            False,
            etag,
            last_modified,
            time.monotonic() - started,
            str(response.url),
            redirects,
            len(body),
        )

    def send_following_redirects(self, scope: FetchScope) -> tuple[httpx.Response, int]:
        """Send the request, following up to ``max_redirects`` redirects, each hop checked."""
        parameters = self.request.parameters
        method = str(parameters.get("method") or "GET").upper()
        headers = request_headers(parameters, self.request.etag, self.request.last_modified)
        content = request_content(method, parameters, headers)
        url: str = self.request.url
        query = parameters.get("query") or None
        for redirects in range(self.max_redirects + 1):
            destination = self._checked(url, scope, redirect=redirects > 0)
            outgoing = self._build(method, destination.url, query, headers, content, scope)
            response = self._send(outgoing)
            location = response.headers.get("location")
            if response.status_code not in REDIRECT_STATUSES or location is None:
                return response, redirects
            response.close()  # a redirect's body is never read
            url = redirect_target(outgoing.url, location)
            method, content = redirect_method(response.status_code, method, content, headers)
            if not same_origin(outgoing.url, url):
                for name in CREDENTIAL_HEADERS:
                    headers.pop(name, None)
            query = None  # the Location is the whole next URL
            logger.debug("following a redirect", extra=self.log_extra)
        raise FetchError(f"Too many redirects (more than {self.max_redirects}).")

    def _checked(self, url: str, scope: FetchScope, redirect: bool) -> Destination:
        """Check the hop's URL and addresses, and let the connection reach only those."""
        try:
            destination = parse_url(url)
            self.destination = destination
            addresses = vet_destination(destination, self.policy, scope.remaining())
        except UnsafeURL as error:
            logger.warning("fetch refused: %s", error.message, extra=self.log_extra)
            raise FetchError(
                f"Redirect refused: {error.message}" if redirect else error.message
            ) from None
        except HostNotFound as error:
            raise FetchError(f"Host not found: {error}.") from None
        scope.pin(destination.connect_host, destination.port, addresses)
        return destination

    def _build(
        self,
        method: str,
        url: httpx.URL,
        query: Any,
        headers: httpx.Headers,
        content: bytes | None,
        scope: FetchScope,
    ) -> httpx.Request:
        try:
            if query:
                url = url.copy_merge_params(query)  # added to the URL's own query, not replacing it
            seconds = max(scope.remaining(), 0.001)
            timeout = {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}
            return httpx.Request(
                method, url, headers=headers, content=content, extensions={"timeout": timeout}
            )
        except (TypeError, ValueError, UnicodeError):
            raise FetchError("The task's query or headers cannot be sent as given.") from None

    def _send(self, outgoing: httpx.Request) -> httpx.Response:
        """One request on the process's pool, its body left unread (streamed).

        Straight to the transport: an ``httpx.Client`` would add a cookie jar, auth and hooks
        the fetcher does not use.
        """
        response = self.transport.handle_request(outgoing)
        response.request = outgoing
        return response

    def _was_conditional(self) -> bool:
        return bool(self.request.etag or self.request.last_modified)

    def where(self) -> str:
        """``host:port`` of the hop being fetched, for messages."""
        if self.destination is None:
            return "the host"
        return f"{self.destination.host}:{self.destination.port}"


def _validator(value: str | None, max_length: int) -> str | None:
    return value if value and len(value) <= max_length else None
