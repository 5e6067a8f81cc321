"""A PostgreSQL that stops answering ends requests and jobs with an error, never a hang.

A TCP proxy between the app and PostgreSQL turns into a black hole: it takes every byte and
forwards none, and closes nothing, like a partition the kernel cannot see (the proxy acknowledges
every byte). Each call runs in a thread the test waits for: still waiting after
``HANG_SECONDS`` means it hangs.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from tests.support.apps import another_app
from tests.support.databases import server_address, through_port
from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.rows import jobs_of
from tests.support.tcp_proxy import TCPProxy, proxy_to
from website.database import without_statement_timeout
from website.errors import is_database_unavailable
from website.extensions import db
from website.models import Task, User
from website.services import executor
from website.services.scheduler import tick

pytestmark = pytest.mark.postgres

HANG_SECONDS = 60.0  # generous: the deadlines below end every wait within a few seconds
CONNECT_TIMEOUT = 2  # seconds (libpq's minimum)
STATEMENT_TIMEOUT = 2.0  # seconds
UNAVAILABLE_MESSAGE = "Database unavailable, try again shortly"


@dataclass
class SilentDatabase:
    """An app reaching the session's PostgreSQL through a proxy that can go silent."""

    app: Flask
    proxy: TCPProxy


@pytest.fixture
def silent_database(app: Flask) -> Iterator[SilentDatabase]:
    database_url = os.environ["DATABASE_URL"]
    with proxy_to(server_address(database_url)) as proxy:
        settings = {
            "SQLALCHEMY_DATABASE_URI": through_port(database_url, proxy.port),
            "DATABASE_CONNECT_TIMEOUT": CONNECT_TIMEOUT,
            "DATABASE_STATEMENT_TIMEOUT": STATEMENT_TIMEOUT,
        }
        with another_app(**settings) as proxied:
            try:
                yield SilentDatabase(proxied, proxy)
            finally:
                proxy.heal()  # whatever still waits gets its answers and ends


def outcome_of(call: Callable[[], Any]) -> Any:
    """What ``call()`` returned or raised, run in a thread; fails the test if it hangs."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = call()
        except Exception as error:
            result["value"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(HANG_SECONDS)
    assert not thread.is_alive(), f"still waiting for the database after {HANG_SECONDS:g} s"
    return result["value"]


def in_context(app: Flask, call: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        with app.app_context():
            try:
                return call()
            finally:
                db.session.remove()

    return run


def test_requests_end_with_503_when_the_database_goes_silent(
    silent_database: SilentDatabase, user: User, auth_headers: dict[str, str]
) -> None:
    client = silent_database.app.test_client()
    assert client.get("/tasks", headers=auth_headers).status_code == 200  # a pooled connection

    silent_database.proxy.black_hole()
    tasks = outcome_of(lambda: client.get("/tasks", headers=auth_headers))
    again = outcome_of(lambda: client.get("/tasks", headers=auth_headers))  # a new connection
    ready = outcome_of(lambda: client.get("/readyz"))

    for response in (tasks, again):
        assert response.status_code == 503
        assert response.get_json()["message"] == UNAVAILABLE_MESSAGE
    assert ready.status_code == 503
    assert ready.get_json()["errors"] == {"database": "unreachable"}

    silent_database.proxy.heal()
    assert client.get("/tasks", headers=auth_headers).status_code == 200


def test_a_statement_waiting_when_the_database_goes_silent_fails_as_a_lost_connection(
    silent_database: SilentDatabase, app: Flask
) -> None:
    statement = "SELECT pg_sleep(1)"  # well within the statement timeout
    started = threading.Event()

    def sleep_on_the_server() -> Any:
        started.set()
        return db.session.execute(text(statement)).scalar()

    def black_hole_once_it_runs() -> None:
        started.wait(HANG_SECONDS)
        running = text("SELECT count(*) FROM pg_stat_activity WHERE query = :query")
        deadline = time.monotonic() + HANG_SECONDS
        while not db.session.execute(running, {"query": statement}).scalar():
            db.session.rollback()
            if time.monotonic() > deadline:
                return  # the statement never started: it then ends normally, and the test fails
        silent_database.proxy.black_hole()

    # Watched from the session's own app, which reaches PostgreSQL directly.
    threading.Thread(target=in_context(app, black_hole_once_it_runs), daemon=True).start()
    error = outcome_of(in_context(silent_database.app, sleep_on_the_server))

    assert isinstance(error, DBAPIError)
    assert error.connection_invalidated
    assert is_database_unavailable(error)


def test_a_worker_claiming_a_job_from_a_silent_database_fails_instead_of_hanging(
    silent_database: SilentDatabase, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    tick()
    [job] = jobs_of(task.id)

    silent_database.proxy.black_hole()
    error = outcome_of(in_context(silent_database.app, lambda: executor.run_job(job.id, 5.0)))

    assert isinstance(error, OperationalError)


def test_a_worker_finishing_a_job_on_a_silent_database_fails_instead_of_hanging(
    silent_database: SilentDatabase,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    fetched = threading.Event()
    answer = threading.Event()

    def answer_when_told(_request: Request) -> Reply:
        fetched.set()
        answer.wait(HANG_SECONDS)
        return Reply(200, b'[{"id": 1}]')

    http_server.route("/feed", answer_when_told)
    task = make_task(url=http_server.url("/feed"))
    tick()
    [job] = jobs_of(task.id)

    def go_silent_during_the_fetch() -> None:
        fetched.wait(HANG_SECONDS)
        silent_database.proxy.black_hole()
        answer.set()

    threading.Thread(target=go_silent_during_the_fetch, daemon=True).start()
    error = outcome_of(in_context(silent_database.app, lambda: executor.run_job(job.id, 5.0)))

    assert fetched.is_set()  # the claim went through; storing the result met the silence
    assert isinstance(error, OperationalError)


def test_statements_are_cancelled_after_the_statement_timeout_but_migrations_are_not(
    user: User,
) -> None:
    sleep = text("SELECT pg_sleep(1.5)")
    with another_app(DATABASE_STATEMENT_TIMEOUT=1.0) as short, short.app_context():
        with pytest.raises(OperationalError) as cancelled:
            db.session.execute(sleep)
        db.session.rollback()
        assert "statement timeout" in str(cancelled.value)
        assert is_database_unavailable(cancelled.value)

        with db.engine.connect() as connection, without_statement_timeout(connection):
            connection.execute(sleep)  # a migration may run as long as it takes
        with db.engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW statement_timeout").scalar() == "1s"
