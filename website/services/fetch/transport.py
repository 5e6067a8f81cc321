"""An httpx transport that connects only to vetted addresses and honours one overall deadline.

Every fetch runs inside a ``fetch_scope``: it holds the addresses checked for each host the
fetch may contact and the fetch's deadline. The network backend underneath httpcore looks
both up on every operation, so:

- a connection goes to an address that was checked, never to a fresh DNS answer (no
  rebinding), while the URL keeps its host name, so the Host header, TLS SNI and certificate
  checks all use the name;
- connect, TLS handshake, every write and every read get at most the time left until the
  deadline, so a server that trickles bytes cannot stretch a fetch past it.
"""

from __future__ import annotations

import ssl
import time
import typing
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import httpcore
import httpx

__all__ = ["FetchScope", "PinnedTransport", "fetch_scope"]


class FetchScope:
    """The vetted addresses and the deadline of the fetch running in this thread."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline  # time.monotonic() value
        self._addresses: dict[tuple[str, int], list[str]] = {}

    def pin(self, host: str, port: int, addresses: list[str]) -> None:
        """Allow connections to ``host:port``, at exactly ``addresses``."""
        self._addresses[(host, port)] = list(addresses)

    def addresses_for(self, host: str, port: int) -> list[str]:
        return self._addresses.get((host, port), [])

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


_current_scope: ContextVar[FetchScope | None] = ContextVar("fetch_scope", default=None)


@contextmanager
def fetch_scope(deadline: float) -> Iterator[FetchScope]:
    """Run a fetch: connections inside go only where the scope was told they may."""
    scope = FetchScope(deadline)
    token = _current_scope.set(scope)
    try:
        yield scope
    finally:
        _current_scope.reset(token)


def _bounded(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the current fetch's deadline."""
    scope = _current_scope.get()
    if scope is None:
        return timeout
    remaining = scope.remaining()
    if remaining <= 0:
        raise timeout_error("The fetch deadline has passed.")
    return remaining if timeout is None else min(timeout, remaining)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the current fetch's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, _bounded(timeout, httpcore.ConnectTimeout)
        )
        return DeadlineStream(stream)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._stream.get_extra_info(info)


class PinnedBackend(httpcore.NetworkBackend):
    """Opens TCP connections only to the addresses the current fetch scope vetted."""

    def __init__(self) -> None:
        self._sockets = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        scope = _current_scope.get()
        addresses = scope.addresses_for(host, port) if scope is not None else []
        if not addresses:
            raise httpcore.ConnectError("Refusing to connect to an address that was not vetted.")
        failure: httpcore.ConnectError | None = None
        for address in addresses:  # in resolver order, like create_connection
            try:
                stream = self._sockets.connect_tcp(
                    address,
                    port,
                    _bounded(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as error:
                failure = error
                continue
            return DeadlineStream(stream)
        assert failure is not None
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("Unix sockets are not fetched.")


# httpcore's errors become httpx's of the same name (what the client handles), specific first.
HTTPX_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = tuple(
    (getattr(httpcore, name), getattr(httpx, name))
    for name in (
        "ConnectTimeout",
        "ReadTimeout",
        "WriteTimeout",
        "PoolTimeout",
        "TimeoutException",
        "ConnectError",
        "ReadError",
        "WriteError",
        "NetworkError",
        "UnsupportedProtocol",
        "LocalProtocolError",
        "RemoteProtocolError",
        "ProtocolError",
    )
)


@contextmanager
def _httpx_errors() -> Iterator[None]:
    """Raise httpcore's errors as httpx's, the original kept as the cause."""
    try:
        yield
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as error:
        for original, translated in HTTPX_ERRORS:
            if isinstance(error, original):
                raise translated(str(error)) from error
        raise


class _ResponseBody(httpx.SyncByteStream):
    """httpcore's response stream, read with httpx's errors."""

    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class PinnedTransport(httpx.BaseTransport):
    """An httpx transport (the public ``BaseTransport`` interface) over an httpcore connection
    pool on ``PinnedBackend``: ``httpx.HTTPTransport`` takes no network backend.

    No proxies: environment proxy settings would connect somewhere else than the vetted address.
    """

    def __init__(self, ssl_context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self.pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=PinnedBackend(),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        outgoing = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=typing.cast(Iterable[bytes], request.stream),
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = self.pool.handle_request(outgoing)
        return httpx.Response(
            response.status,
            headers=response.headers,
            stream=_ResponseBody(typing.cast(Iterable[bytes], response.stream)),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self.pool.close()
