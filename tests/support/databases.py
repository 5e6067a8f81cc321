"""Test databases: a fresh SQLite file, or a fresh PostgreSQL database created for the session."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

__all__ = ["fresh_database_url", "is_postgres", "server_address", "through_port"]


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def server_address(url: str) -> tuple[str, int]:
    """The host and port of a PostgreSQL URL."""
    parsed = make_url(url)
    return parsed.host or "127.0.0.1", parsed.port or 5432


def through_port(url: str, port: int) -> str:
    """The same database reached on 127.0.0.1:``port`` (a proxy in front of the server)."""
    return make_url(url).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@contextmanager
def fresh_database_url(base_url: str | None, directory: Path) -> Iterator[str]:
    """Yield the URL of an empty database; a PostgreSQL one is dropped afterwards.

    With a PostgreSQL ``base_url`` a new database is created on that server, so that runs in
    parallel (CI, developers) never share rows.
    """
    if base_url is None or not is_postgres(base_url):
        yield f"sqlite:///{directory / 'test.db'}"
        return
    server = make_url(base_url)
    name = f"challenge_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
