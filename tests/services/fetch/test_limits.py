"""Limits: the body cap while streaming (compressed or not), and one deadline for everything."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import zlib
from typing import Any

import pytest
from flask import Flask

from tests.services.fetch.servers import Counter, drip, endless, hang_until, wait_for
from tests.support.http_server import LocalHTTPServer, Reply
from website.services.fetch import FetchError, FetchRequest, MappingResolver, fetch, use_resolver

MIB = 1024 * 1024
DEADLINE_SLACK = 10.0  # seconds allowed past a deadline on a machine shared by many test runs


def failure(url: str, timeout: float = 10.0) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch(FetchRequest(url, timeout=timeout))
    return caught.value


def test_a_body_at_the_cap_is_accepted_and_one_byte_more_is_not(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    app.config["FETCH_MAX_BYTES"] = 1024
    at_cap = json.dumps(["x" * 1020]).encode()
    assert len(at_cap) == 1024
    http_server.route("/at-cap", lambda _request: Reply(200, at_cap))
    http_server.route("/over", lambda _request: Reply(200, at_cap + b" "))

    assert fetch(FetchRequest(http_server.url("/at-cap"))).size == 1024
    error = failure(http_server.url("/over"))

    assert error.message == "The response body is larger than 1 KiB."
    assert error.kind == "failed"


def test_the_download_stops_at_the_cap_while_streaming(
    app: Flask, http_server: LocalHTTPServer
) -> None:
    app.config["FETCH_MAX_BYTES"] = 1 * MIB
    counter = Counter()
    http_server.route("/huge", lambda _request: Reply(200, endless(counter, 512 * MIB)))

    error = failure(http_server.url("/huge"))

    assert error.message == "The response body is larger than 1 MiB."
    # The server stops once the client hangs up; only socket buffers hold more than the cap.
    assert wait_for(lambda: _settled(counter))
    assert counter.sent < 64 * MIB


def _settled(counter: Counter) -> bool:
    before = counter.sent
    time.sleep(0.3)
    return counter.sent == before


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
    ],
)
def test_a_compressed_body_is_capped_by_its_decoded_size(
    app: Flask, http_server: LocalHTTPServer, encoding: str, compress: Any
) -> None:
    app.config["FETCH_MAX_BYTES"] = 1 * MIB
    bomb = compress(b"[" + b" " * (200 * MIB) + b"]")  # about 200 KiB on the wire
    http_server.route("/bomb", lambda _request: Reply(200, bomb, {"Content-Encoding": encoding}))

    error = failure(http_server.url("/bomb"))

    assert error.message == "The response body is larger than 1 MiB."


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # headerless, as some servers send
        ("gzip", lambda data: gzip.compress(data[:10]) + gzip.compress(data[10:])),  # two members
        ("identity", lambda data: data),
    ],
)
def test_compressed_bodies_are_decoded(
    app: Flask, http_server: LocalHTTPServer, encoding: str, compress: Any
) -> None:
    payload = [{"id": number, "name": f"record {number}"} for number in range(1000)]
    body = compress(json.dumps(payload).encode())
    http_server.route("/feed", lambda _request: Reply(200, body, {"Content-Encoding": encoding}))

    assert fetch(FetchRequest(http_server.url("/feed"))).payload == payload


@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [
        ("br", b"\x0b\x02\x80[]\x03", "content encoding"),
        ("gzip", b"not gzip at all", "not valid compressed data"),
    ],
)
def test_undecodable_bodies_fail_with_a_clear_message(
    app: Flask, http_server: LocalHTTPServer, encoding: str, body: bytes, message: str
) -> None:
    http_server.route("/feed", lambda _request: Reply(200, body, {"Content-Encoding": encoding}))

    assert message in failure(http_server.url("/feed")).message


def test_a_server_that_never_answers_times_out_within_the_deadline(
    app: Flask, http_server: LocalHTTPServer, release: threading.Event
) -> None:
    http_server.route("/hang", hang_until(release))
    started = time.monotonic()

    error = failure(http_server.url("/hang"), timeout=1)

    assert (error.kind, error.message) == ("timed_out", "No complete response within 1 s.")
    assert time.monotonic() - started < 1 + DEADLINE_SLACK


def test_one_deadline_covers_the_whole_body_not_each_read(
    app: Flask, http_server: LocalHTTPServer, release: threading.Event
) -> None:
    """Each read succeeds within a fraction of the deadline; their sum does not."""
    http_server.route("/drip", drip(release, interval=0.2))
    started = time.monotonic()

    error = failure(http_server.url("/drip"), timeout=1.5)

    assert error.kind == "timed_out"
    assert time.monotonic() - started < 1.5 + DEADLINE_SLACK


def test_a_silent_tcp_peer_times_out_within_the_deadline(app: Flask) -> None:
    """Accepts the connection (the kernel does) but never reads or answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        started = time.monotonic()

        error = failure(f"http://127.0.0.1:{port}/", timeout=1)

    assert error.kind == "timed_out"
    assert time.monotonic() - started < 1 + DEADLINE_SLACK


def test_a_slow_resolver_counts_against_the_deadline(
    app: Flask, http_server: LocalHTTPServer, release: threading.Event
) -> None:
    class StuckResolver:
        def resolve(self, host: str, port: int) -> list[str]:
            release.wait(60)
            return ["127.0.0.1"]

    started = time.monotonic()
    with use_resolver(StuckResolver()):
        error = failure(http_server.url("/", host="slow-dns.test"), timeout=1)

    assert error.kind == "timed_out"
    assert time.monotonic() - started < 1 + DEADLINE_SLACK


def test_a_refused_connection_fails_with_the_host_and_port(app: Flask) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]

    error = failure(f"http://127.0.0.1:{port}/feed")

    assert (error.kind, error.message) == ("failed", f"Connection to 127.0.0.1:{port} refused.")


def test_an_unknown_host_fails_with_its_name(app: Flask, dns: MappingResolver) -> None:
    error = failure("http://nowhere.example.com/feed")

    assert (error.kind, error.message) == ("failed", "Host not found: nowhere.example.com.")
