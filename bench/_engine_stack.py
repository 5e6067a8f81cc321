"""A throwaway stack for the engine benchmarks: database, Redis, the app, and a feed server.

Used by ``bench/scheduler.py`` and ``bench/end_to_end.py`` (not a benchmark itself). The database
is a fresh SQLite file, or a fresh database on the PostgreSQL server named by ``DATABASE_URL``
(dropped afterwards); Redis is a private redis-server on a free port.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import insert

from bench._feed_server import FEED_RECORDS, SLOW_SECONDS
from cli.embedded_redis import EmbeddedRedis
from tests.support.databases import fresh_database_url

__all__ = ["FEED_RECORDS", "FeedServer", "Stack", "engine_stack", "insert_tasks", "percentile"]

INSERT_CHUNK = 5000  # rows per executemany when filling the tasks table
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return ordered[index]


class FeedServer:
    """The feed (``bench/_feed_server.py``) in a process of its own: /feed, and /slow after 50 ms
    (or ``slow_seconds``).

    It stands in for a remote upstream, so it is kept off the benchmark's own process and made
    as cheap as a server can be (asyncio, one prebuilt response, keep-alive); until it was, a
    threaded ``http.server`` inside the benchmark spent the cores the worker was measured on.
    """

    SLOW_SECONDS = SLOW_SECONDS

    def __init__(self, slow_seconds: float = SLOW_SECONDS) -> None:
        self.slow_seconds = slow_seconds
        self.process: subprocess.Popen[str] | None = None
        self.port = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> FeedServer:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench._feed_server", str(self.slow_seconds)],
            cwd=PROJECT_ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.process is not None
        assert self.process.stdin is not None
        self.process.stdin.close()  # the server exits when its stdin closes
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Stack:
    app: Flask
    directory: Path
    environment: dict[str, str]  # what a worker subprocess needs to share the stack
    redis_url: str


@contextmanager
def engine_stack(**settings: str) -> Iterator[Stack]:
    """Build the stack, push an app context, and tear everything down afterwards."""
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        redis_server = stack.enter_context(EmbeddedRedis(free_port(), directory / "redis"))
        database_url = stack.enter_context(
            fresh_database_url(os.environ.get("DATABASE_URL"), directory)
        )
        environment = {
            "APP_ENV": "development",
            "INSTANCE_PATH": str(directory / "instance"),
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_server.url,
            "FETCH_ALLOW_PRIVATE": "1",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "text",
            "DEMO_FEED": "0",
            "PYTHONPATH": str(PROJECT_ROOT),
            **settings,
        }
        os.environ.update(environment)
        from website import create_app
        from website.extensions import db
        from website.services import database_admin

        app = create_app()
        stack.enter_context(app.app_context())
        database_admin.migrate_to_head()
        yield Stack(app, directory, {**os.environ, **environment}, redis_server.url)
        db.session.remove()
        db.engine.dispose()


def insert_tasks(count: int, url: str, **values: Any) -> list[int]:
    """Insert ``count`` tasks for one owner in bulk; none is due (next run in an hour)."""
    from website.extensions import db
    from website.models import Task, User

    owner = User(username=f"bench{time.monotonic_ns()}", password_hash="-")
    db.session.add(owner)
    db.session.commit()
    now = datetime.now(UTC)
    row = {
        "owner_id": owner.id,
        "name": "bench",
        "url": url,
        "parameters": {},
        "start_time": now - timedelta(hours=1),
        "end_time": None,
        "task_interval": 3600,
        "max_execution_time": 10,
        "max_attempt": 3,
        "attempt": 0,
        "enabled": True,
        "priority": 5,
        "next_run_at": now + timedelta(hours=1),
        "created_at": now,
        "updated_at": now,
        **values,
    }
    ids: list[int] = []
    for start in range(0, count, INSERT_CHUNK):
        rows = [row] * min(INSERT_CHUNK, count - start)
        ids.extend(db.session.scalars(insert(Task).returning(Task.id), rows))
    db.session.commit()
    return ids
