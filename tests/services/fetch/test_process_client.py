"""One HTTP transport (connection pool) per worker process, rebuilt after a fork."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import SimpleQueue

from flask import Flask

from tests.services.fetch.servers import BoundHTTPServer
from website.services.fetch import FetchRequest, fetch
from website.services.fetch.pool import process_transport
from website.services.fetch.transport import PinnedTransport


def test_every_fetch_in_a_process_shares_one_transport_and_its_connections(
    app: Flask, http_server: BoundHTTPServer
) -> None:
    http_server.json("/feed", [])

    for _ in range(3):
        fetch(FetchRequest(http_server.url("/feed")))

    assert process_transport() is process_transport()
    assert len(http_server.requests) == 3
    assert http_server.connections == 1  # kept alive between fetches


def _report_client(queue: SimpleQueue[bool], inherited: PinnedTransport) -> None:
    queue.put(process_transport() is not inherited)


def test_a_forked_process_builds_its_own_transport() -> None:
    inherited = process_transport()
    context = multiprocessing.get_context("fork")
    queue: SimpleQueue[bool] = context.SimpleQueue()
    child = context.Process(target=_report_client, args=(queue, inherited))

    child.start()
    child.join(60)

    assert child.exitcode == 0
    assert queue.get() is True
