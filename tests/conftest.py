"""Fixtures: a real database (SQLite or PostgreSQL) and a real Redis for every test session.

DATABASE_URL pointing at PostgreSQL makes the session create (and drop) its own database there;
otherwise a fresh SQLite file is used. REDIS_URL makes the session use that Redis (its database
is flushed before each test); otherwise a private redis-server is started on a free port.
The session exports both, so worker and beat subprocesses started by tests share them.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_jwt_extended import create_access_token
from sqlalchemy import text

from cli.embedded_redis import EmbeddedRedis
from tests.support.databases import fresh_database_url, is_postgres
from tests.support.http_server import LocalHTTPServer
from tests.support.processes import CeleryProcesses
from website import create_app
from website.extensions import db
from website.models import Role, Task, User
from website.services import database_admin
from website.services.tasks import create_task
from website.services.users import create_user

# The suite never reads a developer's .env (Flask's switch, honoured by create_app as well):
# set here, before any app or subprocess, so that every process a test starts inherits it.
os.environ["FLASK_SKIP_DOTENV"] = "1"

TABLES = (
    "api_keys",
    "webhook_deliveries",
    "webhook_events",
    "webhooks",
    "data",
    "jobs",
    "tasks",
    "users",
)
DEFAULT_PASSWORD = "correct horse battery"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres`` need a database server to break; SQLite has none to run them."""
    if is_postgres(os.environ.get("DATABASE_URL") or "sqlite://"):
        return
    deselected = [item for item in items if item.get_closest_marker("postgres")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if item.get_closest_marker("postgres") is None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def test_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment shared by the app under test and every subprocess a test starts."""
    root = tmp_path_factory.mktemp("challenge")
    saved = dict(os.environ)
    embedded: EmbeddedRedis | None = None
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        embedded = EmbeddedRedis(free_port(), root / "redis").start()
        redis_url = embedded.url
    try:
        with fresh_database_url(os.environ.get("DATABASE_URL"), root) as database_url:
            environment = {
                "APP_ENV": "development",
                "INSTANCE_PATH": str(root / "instance"),
                "DATABASE_URL": database_url,
                "REDIS_URL": redis_url,
                "FETCH_ALLOW_PRIVATE": "1",
                "LOG_FORMAT": "text",
                "LOG_LEVEL": "INFO",
            }
            os.environ.update(environment)
            app = create_app({"TESTING": True})
            with app.app_context():
                database_admin.migrate_to_head()
                db.engine.dispose()
            yield environment
    finally:
        os.environ.clear()
        os.environ.update(saved)
        if embedded is not None:
            embedded.stop()


@pytest.fixture
def app(test_environment: dict[str, str]) -> Iterator[Flask]:
    """The app on the session's database, emptied after each test, and a flushed Redis."""
    app = create_app({"TESTING": True})
    app.extensions["redis"].flushdb()
    with app.app_context():
        yield app
        db.session.remove()
        with db.engine.begin() as connection:
            if is_postgres(test_environment["DATABASE_URL"]):
                connection.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
            else:
                for table in TABLES:
                    connection.execute(text(f"DELETE FROM {table}"))
        db.engine.dispose()
    app.extensions["redis"].close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def redis_client(app: Flask) -> redis.Redis:
    client: redis.Redis = app.extensions["redis"]
    return client


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    """Create a user: ``make_user("alice")``, ``make_user("root", role=Role.ADMIN)``."""

    def make(
        username: str = "alice", password: str = DEFAULT_PASSWORD, role: Role = Role.USER
    ) -> User:
        return create_user(username, password, role)

    return make


@pytest.fixture
def user(make_user: Callable[..., User]) -> User:
    return make_user("alice")


def headers_for(user: User) -> dict[str, str]:
    """Bearer headers carrying a fresh access token for ``user``."""
    return {"Authorization": f"Bearer {create_access_token(identity=str(user.id))}"}


@pytest.fixture
def auth_headers(user: User) -> dict[str, str]:
    return headers_for(user)


@pytest.fixture
def make_task(user: User) -> Callable[..., Task]:
    """Create a task owned by ``user`` (or ``owner=``) with sensible defaults."""

    def make(owner: User | None = None, **values: Any) -> Task:
        defaults: dict[str, Any] = {
            "name": "task",
            "url": "http://127.0.0.1:9/feed",
            "parameters": {},
            "start_time": datetime.now(UTC) - timedelta(seconds=1),
            "end_time": None,
            "task_interval": 60,
            "max_execution_time": 5,
            "max_attempt": 3,
        }
        return create_task((owner or user).id, {**defaults, **values})

    return make


@pytest.fixture
def http_server() -> Iterator[LocalHTTPServer]:
    """A real HTTP server on 127.0.0.1 for the test to register routes on."""
    server = LocalHTTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def project_root() -> Path:
    return Path(__file__).resolve().parent.parent


# Short timings for tests with real workers, so that recovery shows within seconds: ticks 5 times
# a second, a job nobody started is republished after 2 s, a lease ends 1 s after its deadline.
ENGINE_TEST_SETTINGS = {
    "SCHEDULER_TICK_SECONDS": "0.2",
    "REQUEUE_AFTER": "2",
    "LEASE_GRACE_SECONDS": "1",
    "FETCH_DEFAULT_TIMEOUT": "5",
}


@pytest.fixture
def celery_processes(app: Flask, tmp_path: Path) -> Iterator[CeleryProcesses]:
    """Start workers and beats with ``celery_processes.worker()`` / ``.beat()``; all are stopped
    (before the database is emptied) when the test ends."""
    app.config.update(
        {name: type(app.config[name])(value) for name, value in ENGINE_TEST_SETTINGS.items()}
    )
    with CeleryProcesses(tmp_path, **ENGINE_TEST_SETTINGS) as processes:
        yield processes


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Blocked handlers wait for it; the test's end always sets it."""
    event = threading.Event()
    yield event
    event.set()
