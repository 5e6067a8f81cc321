"""One fetch: checked hops, redirects by hand, a capped body and one overall deadline."""

from __future__ import annotations

import atexit
import json
import logging
import os
import ssl
import threading
import time
from http import HTTPStatus
from importlib import metadata
from typing import Any

import httpx
from flask import current_app

from website.services.fetch.body import ACCEPT_ENCODING, BodyError, read_capped_body
from website.services.fetch.request import (
    FAILED,
    TIMED_OUT,
    FetchError,
    FetchRequest,
    FetchResult,
)
from website.services.fetch.resolver import HostNotFound, ResolutionTimeout
from website.services.fetch.safety import (
    Destination,
    HostPolicy,
    UnsafeURL,
    parse_url,
    vet_destination,
)
from website.services.fetch.transport import FetchScope, PinnedTransport, fetch_scope

__all__ = [
    "FAILED",
    "TIMED_OUT",
    "USER_AGENT",
    "FetchError",
    "FetchRequest",
    "FetchResult",
    "fetch",
    "parse_json",
    "process_transport",
]

logger = logging.getLogger(__name__)


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
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Headers the fetcher sets itself; a task's own values for them are dropped.
RESERVED_HEADERS = frozenset(
    {
        "accept-encoding",  # only encodings the capped decoder handles
        "connection",
        "content-length",
        "host",
        "keep-alive",
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
MAX_ETAG_LENGTH = 512  # Task.etag column size; a longer validator is not kept
MAX_LAST_MODIFIED_LENGTH = 64  # Task.last_modified column size
# What every request carries unless the task's headers say otherwise (the headers an
# ``httpx.Client`` would add, with the fetcher's own values), in that order.
DEFAULT_HEADERS = (
    ("Accept", "application/json"),
    ("Accept-Encoding", ACCEPT_ENCODING),
    ("Connection", "keep-alive"),
    ("User-Agent", USER_AGENT),
)
CONNECTION_LIMITS = httpx.Limits(
    max_connections=100,  # per worker process, across all threads
    max_keepalive_connections=20,
    keepalive_expiry=30.0,  # seconds an idle connection is kept for the task's next run
)


def fetch(request: FetchRequest) -> FetchResult:
    """Fetch ``request.url`` and parse its JSON body, or raise ``FetchError``."""
    config = current_app.config
    started = time.monotonic()
    run = _Fetch(
        request,
        transport=process_transport(config.get("FETCH_CA_BUNDLE")),
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
            raise FetchError(run.describe(error)) from None


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
                raise FetchError(_status_message(status), http_status=status)
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
        headers = self._headers()
        content = self._content(method, headers)
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
            url = self._redirect_target(outgoing.url, location)
            method, content = _redirect_method(response.status_code, method, content, headers)
            if not _same_origin(outgoing.url, url):
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
        """One request on the process's pool; the response body stays unread (streamed).

        Straight to the transport: an ``httpx.Client`` around it would only add what the fetcher
        does not use (its cookie jar, auth, event hooks, redirects) at a cost on every fetch.
        """
        response = self.transport.handle_request(outgoing)
        response.request = outgoing
        return response

    def _redirect_target(self, current: httpx.URL, location: str) -> str:
        if "\\" in location or any(ord(c) < 0x20 or ord(c) == 0x7F for c in location):
            raise FetchError("Redirect refused: the Location header is malformed.")
        try:
            return str(current.join(location))
        except (httpx.InvalidURL, UnicodeError, ValueError):
            raise FetchError("Redirect refused: the Location header is malformed.") from None

    def _headers(self) -> httpx.Headers:
        own = httpx.Headers()
        for name, value in (self.request.parameters.get("headers") or {}).items():
            if str(name).lower() not in RESERVED_HEADERS:
                own[str(name)] = str(value)
        if self.request.etag:
            own["If-None-Match"] = self.request.etag
        if self.request.last_modified:
            own["If-Modified-Since"] = self.request.last_modified
        headers = httpx.Headers(DEFAULT_HEADERS)
        headers.update(own)  # the task's own values win
        return headers

    def _content(self, method: str, headers: httpx.Headers) -> bytes | None:
        parameters = self.request.parameters
        if method in {"GET", "HEAD"} or "body" not in parameters:
            return None
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(parameters["body"], separators=(",", ":")).encode()

    def _was_conditional(self) -> bool:
        return bool(self.request.etag or self.request.last_modified)

    def describe(self, error: httpx.HTTPError) -> str:
        """A short, safe sentence for a transport failure."""
        where = (
            f"{self.destination.host}:{self.destination.port}" if self.destination else "the host"
        )
        if isinstance(error, httpx.ConnectError):
            cause = _root_cause(error)
            if isinstance(cause, ssl.SSLCertVerificationError):
                return f"TLS certificate verification failed for {where}: {cause.verify_message}."
            if isinstance(cause, ssl.SSLError):
                return f"TLS handshake with {where} failed."
            if isinstance(cause, ConnectionRefusedError):
                return f"Connection to {where} refused."
            return f"Could not connect to {where}."
        if isinstance(error, httpx.RemoteProtocolError):
            return f"{where} closed the connection or sent an invalid HTTP response."
        if isinstance(error, httpx.ReadError):
            return f"The connection to {where} broke while reading the response."
        if isinstance(error, httpx.WriteError):
            return f"The connection to {where} broke while sending the request."
        if isinstance(error, httpx.LocalProtocolError):
            return "The request could not be sent: check the task's headers."
        return f"The request to {where} failed."


def _same_origin(current: httpx.URL, target: str) -> bool:
    following = httpx.URL(target)
    return (current.scheme, current.host, current.port) == (
        following.scheme,
        following.host,
        following.port,
    )


def _redirect_method(
    status: int, method: str, content: bytes | None, headers: httpx.Headers
) -> tuple[str, bytes | None]:
    """Browsers' rules: 303 becomes GET, and so does POST after 301/302; 307/308 keep both."""
    if (status == HTTPStatus.SEE_OTHER and method != "HEAD") or (
        status in {HTTPStatus.MOVED_PERMANENTLY, HTTPStatus.FOUND} and method == "POST"
    ):
        headers.pop("content-type", None)
        return "GET", None
    return method, content


def _status_message(status: int) -> str:
    try:
        return f"HTTP {status} {HTTPStatus(status).phrase}."
    except ValueError:
        return f"HTTP {status}."


def _validator(value: str | None, max_length: int) -> str | None:
    return value if value and len(value) <= max_length else None


def _root_cause(error: BaseException) -> BaseException:
    """The original OS or TLS error under httpx's and httpcore's wrappers."""
    while True:
        inner = error.__cause__ or error.__context__
        if inner is None and error.args and isinstance(error.args[0], BaseException):
            inner = error.args[0]  # httpcore keeps it as its argument
        if inner is None:
            return error
        error = inner


class _NonStandardConstant(ValueError):
    """NaN or Infinity: Python reads them, JSON (and PostgreSQL) does not."""


def _refuse_constant(name: str) -> Any:
    raise _NonStandardConstant(name)


def parse_json(body: bytes | bytearray, http_status: int | None = None) -> Any:
    """The JSON value in ``body``, or a ``FetchError`` saying where it went wrong."""

    def invalid(message: str) -> FetchError:
        return FetchError(message, http_status=http_status)

    if not body.strip():
        raise invalid("The response body is empty; expected JSON.")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise invalid(
            f"Invalid JSON at line {error.lineno} column {error.colno}: {error.msg}."
        ) from None
    except UnicodeDecodeError:
        raise invalid("Invalid JSON: the body is not UTF-8 text.") from None
    except _NonStandardConstant as error:
        raise invalid(f"Invalid JSON: {error} is not a JSON value.") from None
    except RecursionError:
        raise invalid("Invalid JSON: nested too deeply.") from None
    except ValueError:
        raise invalid("Invalid JSON: a number has too many digits.") from None


def _ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """Certificates checked against certifi's authorities, or those in ``ca_bundle``."""
    if ca_bundle:
        return ssl.create_default_context(cafile=ca_bundle)
    return httpx.create_ssl_context(trust_env=False)


_transports: dict[tuple[int, str | None], PinnedTransport] = {}
_transports_lock = threading.Lock()


def process_transport(ca_bundle: str | None = None) -> PinnedTransport:
    """This process's transport (connection pool), created on first use and again after a fork.

    Every fetch of the process shares it, so connections are kept alive between a task's runs.
    Nothing else is shared: no cookies, no credentials (the fetcher sends neither by itself).
    """
    key = (os.getpid(), ca_bundle)
    transport = _transports.get(key)
    if transport is None:
        with _transports_lock:
            transport = _transports.get(key)
            if transport is None:
                # A forked child must not share its parent's sockets: forget, never close, them.
                for stale in [other for other in _transports if other[0] != key[0]]:
                    del _transports[stale]
                transport = PinnedTransport(_ssl_context(ca_bundle), CONNECTION_LIMITS)
                _transports[key] = transport
    return transport


@atexit.register
def _close_transports() -> None:
    """Close this process's pooled connections on the way out, rather than leave them to GC."""
    with _transports_lock:
        for key in [key for key in _transports if key[0] == os.getpid()]:
            _transports.pop(key).close()
