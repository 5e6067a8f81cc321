"""The benchmarks' feed: 50 JSON records at /feed, the same at /slow after exactly 50 ms, and 250
records at /large.

It stands in for a remote upstream, which would not run on the worker's cores, so it is made to
cost as little CPU as it can: one asyncio process of its own (not a thread of the benchmark),
one response built once, HTTP/1.1 keep-alive (the fetcher keeps its connections), no per-request
thread, and the whole response written at once with TCP_NODELAY. /slow answers
``SLOW_SECONDS`` after its request arrived (a timer, not a sleeping thread).

Run as ``python -m bench._feed_server [SLOW_SECONDS]``: it prints its port on the first line of
stdout and serves until stdin closes or it is terminated.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys

__all__ = ["FEED_RECORDS", "LARGE_FEED_RECORDS", "SLOW_SECONDS", "response"]

SLOW_SECONDS = 0.05  # the latency of /slow
FEED_RECORDS = [
    {"id": number, "name": f"attendee {number}", "title": "Engineer", "score": number * 7}
    for number in range(50)
]  # 50 records, like a small event feed
LARGE_FEED_RECORDS = [
    {"id": number, "name": f"attendee {number}", "title": "Engineer", "score": number * 7}
    for number in range(250)
]  # 250 records, the size issue 16 measures CPU per job at
MAX_HEADER_BYTES = 16 * 1024


def response(records: list[dict[str, object]] = FEED_RECORDS) -> bytes:
    """The response of a feed path: headers and body in one buffer."""
    body = json.dumps(records).encode()
    head = (
        f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + body


NOT_FOUND = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"


class FeedProtocol(asyncio.Protocol):
    """One connection: answers each request (GET, no body) in order."""

    def __init__(self, answer: bytes, large: bytes, slow_seconds: float = SLOW_SECONDS) -> None:
        self.answer = answer
        self.large = large
        self.slow_seconds = slow_seconds
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.waiting = 0  # /slow answers scheduled and not yet written
        self.queued: list[bytes] = []  # answers behind a pending /slow one, kept in order

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > MAX_HEADER_BYTES:
                    self._close()
                return
            request, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            path = request.split(b"\r\n", 1)[0].split(b" ")[1:2]
            target = path[0] if path else b""
            if target.startswith(b"/slow"):
                self.waiting += 1
                loop = asyncio.get_running_loop()
                loop.call_later(self.slow_seconds, self._slow_answer)
            elif target.startswith(b"/large"):
                self._write(self.large)
            elif target.startswith(b"/feed"):
                self._write(self.answer)
            else:
                self._write(NOT_FOUND)

    def _slow_answer(self) -> None:
        self.waiting -= 1
        assert self.transport is not None
        if not self.transport.is_closing():
            self.transport.write(self.answer)
            if self.waiting == 0 and self.queued:
                self.transport.write(b"".join(self.queued))
                self.queued.clear()

    def _write(self, data: bytes) -> None:
        assert self.transport is not None
        if self.waiting:
            self.queued.append(data)
        else:
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def serve(slow_seconds: float = SLOW_SECONDS) -> None:
    loop = asyncio.get_running_loop()
    answer, large = response(), response(LARGE_FEED_RECORDS)
    server = await loop.create_server(
        lambda: FeedProtocol(answer, large, slow_seconds),
        "127.0.0.1",
        0,
        backlog=4096,
        reuse_address=True,
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    stdin_closed: asyncio.Future[None] = loop.create_future()

    def on_stdin() -> None:
        if not stdin_closed.done():
            stdin_closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), on_stdin)
    async with server:
        await stdin_closed  # the benchmark closed our stdin (or exited)


if __name__ == "__main__":
    asyncio.run(serve(float(sys.argv[1]) if len(sys.argv) > 1 else SLOW_SECONDS))
