"""One HTTP client (connection pool) per worker process, rebuilt after a fork."""

from __future__ import annotations

import multiprocessing
from multiprocessing.queues import SimpleQueue

import httpx
from flask import Flask

from tests.fetch.servers import BoundHTTPServer
from website.services.fetch import FetchRequest, fetch
from website.services.fetch.client import process_client


def test_every_fetch_in_a_process_shares_one_client_and_its_connections(
    app: Flask, http_server: BoundHTTPServer
) -> None:
    http_server.json("/feed", [])

    for _ in range(3):
        fetch(FetchRequest(http_server.url("/feed")))

    assert process_client() is process_client()
    assert len(http_server.requests) == 3
    assert http_server.connections == 1  # kept alive between fetches


def _report_client(queue: SimpleQueue[bool], inherited: httpx.Client) -> None:
    queue.put(process_client() is not inherited)


def test_a_forked_process_builds_its_own_client() -> None:
    inherited = process_client()
    context = multiprocessing.get_context("fork")
    queue: SimpleQueue[bool] = context.SimpleQueue()
    child = context.Process(target=_report_client, args=(queue, inherited))

    child.start()
    child.join(60)

    assert child.exitcode == 0
    assert queue.get() is True
