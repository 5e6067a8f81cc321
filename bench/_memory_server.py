"""The server ``bench/fetch_memory.py`` fetches from: oversized, bomb, large and small bodies."""

from __future__ import annotations

import gzip
import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "EMPTY_OBJECTS",
    "RESPONSE_BYTES",
    "TINY_RECORDS",
    "MemoryBenchServer",
]

MIB = 1024 * 1024
RESPONSE_BYTES = 200 * MIB  # what /chunked, /sized and (inflated) /gzip offer
CHUNK = 64 * 1024  # bytes per chunk the server writes
TINY_BODY = b'[{"id": 1}]'
TINY_RECORDS = 5_000_000  # "[0,0,...]": 9.5 MiB, under the cap, 50x FETCH_MAX_RECORDS
EMPTY_OBJECTS = 3_300_000  # "[{},{},...]": 9.4 MiB, the body that costs most to parse
FEED = json.dumps([{"id": n, "name": f"exhibitor {n}", "booth": "A1"} for n in range(25)]).encode()
# A JSON array of numbers, repeated: looks like real data, compresses like real data.
PATTERN = b"".join(b"%d," % number for number in range(20000))


def _chunks(total: int) -> Iterator[bytes]:
    block = (PATTERN * (CHUNK // len(PATTERN) + 1))[:CHUNK]
    yield b"["
    sent = 1
    while sent < total - 2:
        piece = block[: min(CHUNK, total - 2 - sent)]
        yield piece
        sent += len(piece)
    yield b"0]"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    gzip_bomb = b""  # built by the server process only, never by the measuring ones
    bodies: dict[str, bytes] = {}  # likewise: path -> body

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_GET(self) -> None:
        try:
            if self.path == "/tiny":
                self._send(TINY_BODY)
            elif self.path == "/chunked":
                self._send_chunked(_chunks(RESPONSE_BYTES))
            elif self.path == "/sized":
                self.send_response(200)
                self.send_header("Content-Length", str(RESPONSE_BYTES))
                self.end_headers()
                for chunk in _chunks(RESPONSE_BYTES):
                    self.wfile.write(chunk)
            elif self.path == "/gzip":
                self._send(self.gzip_bomb, {"Content-Encoding": "gzip"})
            elif self.path in self.bodies:
                self._send(self.bodies[self.path])
            else:
                self._send(b"{}", status=404)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the fetcher hung up at the cap: the point of the exercise

    def _send(self, body: bytes, headers: dict[str, str] | None = None, status: int = 200) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _send_chunked(self, chunks: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for chunk in chunks:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class MemoryBenchServer:
    """The server in a thread of this process; its bodies are built here, never in a client."""

    def __enter__(self) -> str:
        _Handler.gzip_bomb = gzip.compress(b"[" + b" " * RESPONSE_BYTES + b"]", compresslevel=9)
        _Handler.bodies = {
            "/feed": FEED,
            "/records": b"[" + b"0," * (TINY_RECORDS - 1) + b"0]",
            "/objects": b"[" + b"{}," * (EMPTY_OBJECTS - 1) + b"{}]",
        }
        self.server = _Server(("127.0.0.1", 0), _Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()
