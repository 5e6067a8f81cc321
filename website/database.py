"""The SQLAlchemy handle, UTC datetimes, SQLite set up for web + worker + beat at once, and
engine options that keep a silent PostgreSQL from hanging anything (database_timeouts)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from website.database_timeouts import STATEMENT_DEADLINE_OPTION, connect_arguments, watch_engine
from website.jsonio import loads

__all__ = [
    "Base",
    "UTCDateTime",
    "db",
    "engine_options",
    "init_app",
    "read_only_transactions",
    "utcnow",
    "without_statement_timeout",
]

SQLITE_BUSY_TIMEOUT_MS = 30_000  # a writer waits this long for another process's transaction

# Named constraints, so that migrations can alter them on SQLite and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones, so values are stored as naive UTC
    (and compare correctly as text) and come back with ``tzinfo=UTC``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        # SQLite gives back the naive UTC it stores.
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base, session_options={"expire_on_commit": False})


def _uses_psycopg(database_url: str) -> bool:
    url = make_url(database_url)
    return url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg"


def engine_options(config: Mapping[str, Any]) -> dict[str, Any]:
    """SQLAlchemy's engine options (``SQLALCHEMY_ENGINE_OPTIONS``) for the configured database."""
    database_url = config["SQLALCHEMY_DATABASE_URI"]
    # JSON columns are written by the standard library and read through orjson (jsonio).
    options: dict[str, Any] = {"json_deserializer": loads}
    if make_url(database_url).get_backend_name() == "sqlite":
        return options  # a file: no server to wait for; the busy timeout bounds lock waits
    options["pool_timeout"] = config["DATABASE_POOL_TIMEOUT"]
    if _uses_psycopg(database_url):
        # Pooled connections are pinged before use by watch_engine, within a deadline.
        options["connect_args"] = connect_arguments(config, make_url(database_url))
    else:
        options["pool_pre_ping"] = True  # a server may drop idle connections (restart, failover)
    return options


def init_app(app: Flask) -> None:
    """Bind ``db`` to the app, with a deadline on every wait for PostgreSQL (psycopg)."""
    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config))
    db.init_app(app)
    if _uses_psycopg(app.config["SQLALCHEMY_DATABASE_URI"]):
        with app.app_context():
            watch_engine(db.engine, app.config)


@contextmanager
def without_statement_timeout(connection: Connection) -> Iterator[Connection]:
    """``connection`` with no statement timeout, on the server or the client: for migrations,
    which may rewrite a big table. On PostgreSQL the connection is closed afterwards instead of
    going back to the pool with the timeout off."""
    if connection.dialect.name != "postgresql":
        yield connection
        return
    connection.execution_options(**{STATEMENT_DEADLINE_OPTION: None})
    connection.exec_driver_sql("SET statement_timeout = 0")
    connection.commit()
    try:
        yield connection
    finally:
        connection.invalidate()


@event.listens_for(Engine, "connect")
def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Let SQLAlchemy's "begin" hook below issue BEGIN itself instead of pysqlite's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


# Set while running code that only reads (the API's GET requests): see read_only_transactions.
_read_only: ContextVar[bool] = ContextVar("read_only_transactions", default=False)


@contextmanager
def read_only_transactions() -> Iterator[None]:
    """SQLite transactions begun in this block are deferred: for code that never writes.

    Under WAL a deferred transaction reads a snapshot without taking the write lock, so reads
    neither queue behind a worker's write nor behind each other. On PostgreSQL, connections
    opened in this block run each statement on its own (autocommit): under READ COMMITTED every
    statement reads its own snapshot in a transaction too, and a request saves the round trips
    of BEGIN and ROLLBACK. SQLAlchemy resets the connection when it goes back to the pool.
    """
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


@event.listens_for(Engine, "engine_connect")
def _autocommit_reads_on_postgresql(connection: Connection) -> None:
    if _read_only.get() and connection.dialect.name == "postgresql":
        connection.execution_options(isolation_level="AUTOCOMMIT")


@event.listens_for(Engine, "begin")
def _begin_immediate_on_sqlite(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with "database is locked"
    # when another process wrote in between (the busy timeout does not apply to that upgrade).
    # Taking the write lock up front makes every transaction wait its turn instead.
    # Straight to the driver: through exec_driver_sql this BEGIN cost as much SQLAlchemy
    # bookkeeping as a real statement (every transaction pays it; a job has two).
    if connection.dialect.name == "sqlite":
        connection.connection.driver_connection.execute(
            "BEGIN" if _read_only.get() else "BEGIN IMMEDIATE"
        )
