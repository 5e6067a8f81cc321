"""The SQLAlchemy handle, UTC datetimes, SQLite set up for web + worker + beat at once, and
engine options that keep a silent PostgreSQL from hanging anything (database_timeouts)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
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
    "UTCISOText",
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


def _in_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive one (SQLite stores naive UTC) taken as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
        return None if value is None else _in_utc(value)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any]:
        # What TypeDecorator builds, as one function: a listing converts hundreds of these.
        parse = self.impl_instance.result_processor(dialect, coltype)

        def process(value: Any) -> datetime | None:
            if value is not None and parse is not None:
                value = parse(value)
            return None if value is None else _in_utc(value)

        return process


class UTCISOText(UTCDateTime):
    """A ``UTCDateTime`` column read as the ISO 8601 text a response sends it as, for listings:
    ``type_coerce(column, UTCISOText())``.

    A listing of 50 tasks reads 300 datetimes; on SQLite each was text parsed into a datetime and
    formatted back. Here SQLAlchemy's stored form (``YYYY-MM-DD HH:MM:SS.ffffff``, naive UTC)
    becomes the text ``datetime.isoformat`` would give without the round trip; any other value,
    and every value on PostgreSQL, is read as ``UTCDateTime`` reads it and formatted.
    """

    cache_ok = True

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any]:
        to_datetime = super().result_processor(dialect, coltype)

        def iso_of_datetime(value: Any) -> str | None:
            parsed = to_datetime(value)
            return None if parsed is None else parsed.isoformat()

        if dialect.name != "sqlite":
            return iso_of_datetime

        def iso_of_stored_text(value: Any) -> str | None:
            if (
                value.__class__ is str
                and len(value) == 26
                and value[10] == " "
                and value[19] == "."
            ):
                if value.endswith(".000000"):  # isoformat leaves out a zero fraction
                    return f"{value[:10]}T{value[11:19]}+00:00"
                return f"{value[:10]}T{value[11:]}+00:00"
            return iso_of_datetime(value)

        return iso_of_stored_text


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
    neither queue behind a worker's write nor behind each other.
    """
    token = _read_only.set(True)
    try:
        yield
    finally:
        _read_only.reset(token)


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
