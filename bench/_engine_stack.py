"""A throwaway stack for the engine benchmarks: database, Redis, the app, and a feed server.

Used by ``bench/scheduler.py`` and ``bench/end_to_end.py`` (not a benchmark itself). The database
is a fresh SQLite file, or a fresh database on the PostgreSQL server named by ``DATABASE_URL``
(dropped afterwards); Redis is a private redis-server on a free port.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import insert

from cli.embedded_redis import EmbeddedRedis
from tests.support.databases import fresh_database_url

__all__ = ["FeedServer", "Stack", "engine_stack", "insert_tasks", "percentile"]

INSERT_CHUNK = 5000  # rows per executemany when filling the tasks table
PROJECT_ROOT = Path(__file__).resolve().parent.parent
FEED_RECORDS = [
    {"id": number, "name": f"attendee {number}", "title": "Engineer", "score": number * 7}
    for number in range(50)
]  # what the feed server answers: 50 records, like a small event feed


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
    """A threaded HTTP server answering 50 JSON records at /feed, and at /slow after 50 ms."""

    SLOW_SECONDS = 0.05  # the latency of /slow

    def __init__(self) -> None:
        body = json.dumps(FEED_RECORDS).encode()
        slow_seconds = self.SLOW_SECONDS

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out as separate writes: without this, Nagle's algorithm and the
            # client's delayed ACK hold the body back 40 ms, and the benchmark measures that.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                if self.path.startswith("/slow"):
                    time.sleep(slow_seconds)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.request_queue_size = 256
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.server.shutdown()
        self.server.server_close()


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
