"""Fetches from many threads at once: one connection pool per thread against one shared pool.

A threads worker runs up to ``WORKER_CONCURRENCY`` (200) fetches at once. This runs 200 threads,
each sending 100 requests one after the other to the benchmarks' local feed (``/slow``, answered
after 20 ms, keep-alive), through the fetcher's transport in two ways, in the same run:

1. the baseline: one ``PinnedTransport`` shared by every thread, as the fetcher had until
   issue 16 (httpcore's pool, at most 20 idle connections kept);
2. ``thread_transport()``: the fetcher's transport now, one pool per thread.

It prints the requests that failed (by error) and the CPU per request of this process, for each.
httpcore 1.0's pool can close a connection it has just handed to one thread when another
thread's request passes through it (encode/httpcore#1110): the request then fails with a read
error or waits until its timeout. Target: no failure with the fetcher's transport.

Run: ``python bench/fetch_threads.py`` or ``python -m bench fetch_threads`` (about a minute);
``--threads`` and ``--requests`` (per thread) to change the load.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._engine_stack import FeedServer
from website.services.fetch.pool import thread_transport
from website.services.fetch.transport import PinnedTransport, fetch_scope

THREADS = 200  # WORKER_CONCURRENCY's default
REQUESTS_PER_THREAD = 100
UPSTREAM_SECONDS = 0.02
TIMEOUT_SECONDS = 10.0
SHARED_LIMITS = httpx.Limits(  # the fetcher's single pool before issue 16
    max_connections=None, max_keepalive_connections=20, keepalive_expiry=30.0
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--requests", type=int, default=REQUESTS_PER_THREAD, help="per thread")
    options = parser.parse_args(argv)

    with FeedServer(slow_seconds=UPSTREAM_SECONDS) as server:
        shared = PinnedTransport(httpx.create_ssl_context(), SHARED_LIMITS)
        ways: dict[str, Callable[[], PinnedTransport]] = {
            "one shared pool (baseline)": lambda: shared,
            "one pool per thread (the fetcher)": thread_transport,
        }
        print(
            f"{options.threads} threads x {options.requests} requests to a local server "
            f"answering after {UPSTREAM_SECONDS * 1000:g} ms"
        )
        print(f"{'transport':<36}{'failed':>8}{'CPU/request':>14}{'seconds':>9}  errors")
        failures = 0
        for name, transport in ways.items():
            errors, cpu_ms, seconds = run(transport, server.url("/slow"), options)
            failures = sum(errors.values())
            print(
                f"{name:<36}{failures:>8}{cpu_ms:>11.3f} ms{seconds:>9.1f}  "
                + (", ".join(f"{count} {kind}" for kind, count in errors.items()) or "-")
            )
        shared.close()
    print("target met" if failures == 0 else "TARGET MISSED")
    if failures:
        raise SystemExit(1)


def run(
    transport: Callable[[], PinnedTransport], url: str, options: argparse.Namespace
) -> tuple[Counter[str], float, float]:
    """Failures by error name, CPU ms per request of this process, and the wall seconds."""
    target = httpx.URL(url)
    assert target.host
    assert target.port
    errors: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(options.threads + 1)

    def fetch_many() -> None:
        start.wait()
        for _ in range(options.requests):
            with fetch_scope(time.monotonic() + TIMEOUT_SECONDS) as scope:
                scope.pin(target.host, target.port, [target.host])
                try:
                    response = transport().handle_request(httpx.Request("GET", target))
                    response.read()
                    response.close()
                except httpx.HTTPError as error:
                    with lock:
                        errors[type(error).__name__] += 1

    threads = [threading.Thread(target=fetch_many) for _ in range(options.threads)]
    for thread in threads:
        thread.start()
    cpu_started, started = time.process_time(), time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    cpu = time.process_time() - cpu_started
    requests = options.threads * options.requests
    return errors, cpu * 1000 / requests, time.perf_counter() - started


if __name__ == "__main__":
    main()
