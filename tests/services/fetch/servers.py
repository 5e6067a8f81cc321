"""Local servers for fetcher tests: HTTP on any loopback address, and handlers that misbehave."""

from __future__ import annotations

import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import ThreadingHTTPServer
from typing import Any

from tests.support.http_server import LocalHTTPServer, Reply, Request

__all__ = [
    "BoundHTTPServer",
    "Counter",
    "TLSHTTPServer",
    "drip",
    "endless",
    "hang_until",
    "wait_for",
]

CHUNK = 64 * 1024  # bytes per chunk the streaming handlers write


class _QuietHTTPServer(ThreadingHTTPServer):
    """Says nothing when a client hangs up mid-request (the fetcher does that on purpose), and
    counts the TCP connections it accepted."""

    connections = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        self.connections += 1
        super().process_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _IPv6HTTPServer(_QuietHTTPServer):
    address_family = socket.AF_INET6


class BoundHTTPServer(LocalHTTPServer):
    """``LocalHTTPServer`` listening on ``address`` (``127.0.0.2``, ``::1``, ...) and ``port``."""

    def __init__(self, address: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__()
        handler = self._server.RequestHandlerClass
        self._server.server_close()
        server_class = _IPv6HTTPServer if ":" in address else _QuietHTTPServer
        self._server = server_class((address, port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.address = address

    @property
    def connections(self) -> int:
        """TCP connections accepted so far."""
        return int(getattr(self._server, "connections", 0))

    def url(self, path: str = "/", host: str | None = None) -> str:
        host = host or (f"[{self.address}]" if ":" in self.address else self.address)
        return f"http://{host}:{self.port}{path}"


class TLSHTTPServer(BoundHTTPServer):
    """HTTPS on 127.0.0.1 with the certificate in ``context``; records the SNI names it saw."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__("127.0.0.1")
        self.server_names: list[str | None] = []
        context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)

    def url(self, path: str = "/", host: str | None = None) -> str:
        return f"https://{host or self.address}:{self.port}{path}"


class Counter:
    """How many body bytes a streaming handler managed to write."""

    def __init__(self) -> None:
        self.sent = 0


def endless(counter: Counter, limit: int) -> Callable[[], Iterator[bytes]]:
    """A chunked body of up to ``limit`` bytes, counting what the client accepted."""

    def chunks() -> Iterator[bytes]:
        chunk = b" " * CHUNK
        while counter.sent < limit:
            yield chunk
            counter.sent += len(chunk)

    return chunks


def drip(stop: threading.Event, interval: float) -> Callable[[Request], Reply]:
    """A handler that answers at once, then sends one body byte every ``interval`` seconds."""

    def chunks() -> Iterator[bytes]:
        yield b"["
        while not stop.wait(interval):
            yield b" "

    return lambda _request: Reply(200, chunks, {"Content-Type": "application/json"})


def hang_until(stop: threading.Event) -> Callable[[Request], Reply]:
    """A handler that accepts the request and never answers (until the test ends)."""

    def handler(_request: Request) -> Reply:
        stop.wait(120)
        return Reply(500)

    return handler


def wait_for(condition: Callable[[], bool], seconds: float = 30.0) -> bool:
    """Poll ``condition`` until it holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()
