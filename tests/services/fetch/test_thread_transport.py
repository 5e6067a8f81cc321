"""One HTTP transport (connection pool) per fetching thread, rebuilt after a fork."""

from __future__ import annotations

import multiprocessing
import threading
from multiprocessing.queues import SimpleQueue

from flask import Flask

from tests.services.fetch.servers import BoundHTTPServer
from website.services.fetch import FetchError, FetchRequest, fetch
from website.services.fetch.pool import thread_transport
from website.services.fetch.transport import PinnedTransport

THREADS = 40  # more fetches in flight than a shared pool used to keep connections for (20)
FETCHES_PER_THREAD = 25


def test_every_fetch_in_a_thread_shares_one_transport_and_its_connections(
    app: Flask, http_server: BoundHTTPServer
) -> None:
    http_server.json("/feed", [])

    for _ in range(3):
        fetch(FetchRequest(http_server.url("/feed")))

    assert thread_transport() is thread_transport()
    assert len(http_server.requests) == 3
    assert http_server.connections == 1  # kept alive between fetches


def test_concurrent_fetches_each_keep_their_own_connection_alive(
    app: Flask, http_server: BoundHTTPServer
) -> None:
    # A threads worker fetches from many threads at once. Each keeps its connection for its next
    # fetch, and no thread's request can lose its connection to another's (with one pool shared
    # by all threads, connections were closed and opened again, and now and then closed under a
    # request waiting for its response).
    http_server.json("/feed", [{"id": 1}])
    start = threading.Barrier(THREADS)
    failures: list[str] = []

    def fetch_many() -> None:
        with app.app_context():
            start.wait()
            for _ in range(FETCHES_PER_THREAD):
                try:
                    fetch(FetchRequest(http_server.url("/feed")))
                except FetchError as error:
                    failures.append(str(error))

    threads = [threading.Thread(target=fetch_many) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert failures == []
    assert len(http_server.requests) == THREADS * FETCHES_PER_THREAD
    assert http_server.connections == THREADS  # one each, kept alive for all its fetches


def _report_transport(queue: SimpleQueue[bool], inherited: PinnedTransport) -> None:
    queue.put(thread_transport() is not inherited)


def test_a_forked_process_builds_its_own_transport() -> None:
    inherited = thread_transport()
    context = multiprocessing.get_context("fork")
    queue: SimpleQueue[bool] = context.SimpleQueue()
    child = context.Process(target=_report_transport, args=(queue, inherited))

    child.start()
    child.join(60)

    assert child.exitcode == 0
    assert queue.get() is True
