"""PostgreSQL connections that cannot hang: timeouts for the socket, the server and the client.

A database that stops answering (a partition that neither closes nor refuses, a stuck server, a
proxy whose upstream is gone) would hold every request and job that touches it for as long as it
lasts. The bounds, each from the configuration (docs/configuration.md):

- ``connect_timeout``: opening a connection (psycopg enforces it itself).
- TCP keepalives and ``tcp_user_timeout``: the kernel drops a connection whose peer vanished.
- ``statement_timeout``: the server cancels a statement that runs too long.
- A client-side deadline: no wait for the server outlasts its allowance. The kernel's timeouts
  see nothing wrong when something between us and the server keeps acknowledging bytes (a proxy,
  a load balancer) and the server cannot cancel what it never receives, so a watchdog thread
  closes the socket of a connection still waiting when its deadline passes; the waiting call then
  fails at once with a disconnect that SQLAlchemy recognises. A statement may wait for its
  statement timeout plus the connect timeout (the time for the server's cancellation to arrive);
  the ping that checks a pooled connection before each use may wait for the connect timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from psycopg.pq import TransactionStatus
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import InvalidatePoolError

from website.burst_log import BurstLog

__all__ = [
    "STATEMENT_DEADLINE_OPTION",
    "connect_arguments",
    "expect_driver_answer",
    "watch_engine",
]

logger = logging.getLogger(__name__)

# A connection that sends nothing for 10 s is probed every 5 s; 3 unanswered probes drop it.
KEEPALIVE_IDLE_SECONDS = 10
KEEPALIVE_INTERVAL_SECONDS = 5
KEEPALIVE_COUNT = 3
# Bytes unacknowledged this long drop the connection: the same bound as the keepalives give.
TCP_USER_TIMEOUT_MS = (KEEPALIVE_IDLE_SECONDS + KEEPALIVE_INTERVAL_SECONDS * KEEPALIVE_COUNT) * 1000
WATCHDOG_INTERVAL_SECONDS = 0.25  # how late past its deadline a silent connection is closed
CUT_LOG_INTERVAL_SECONDS = 60.0  # one warning per minute while the database stays silent
# Execution option: the seconds a statement may wait for the server, None for no deadline.
STATEMENT_DEADLINE_OPTION = "statement_deadline"
FRESH = "website.database_timeouts.fresh"  # a connection record's info key: not used yet
RETURNED = "website.database_timeouts.returned"  # its info key: monotonic time of its check-in
# A connection back in the pool for less than this is reused without a ping: it answered a moment
# ago. A server restart in that moment fails the one request or job that meets the closed
# connection first (a 503, a job retried after its lease), and SQLAlchemy then replaces the
# pool's connections; a ping before every use cost each request and each job transaction a
# round trip.
PING_AFTER_IDLE_SECONDS = 1.0


def connect_arguments(config: Mapping[str, Any], url: URL) -> dict[str, Any]:
    """libpq parameters bounding connect, dead peers and statements; DATABASE_URL's own win."""
    arguments: dict[str, Any] = {
        "connect_timeout": config["DATABASE_CONNECT_TIMEOUT"],
        "keepalives": 1,
        "keepalives_idle": KEEPALIVE_IDLE_SECONDS,
        "keepalives_interval": KEEPALIVE_INTERVAL_SECONDS,
        "keepalives_count": KEEPALIVE_COUNT,
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }
    statement_ms = round(config["DATABASE_STATEMENT_TIMEOUT"] * 1000)
    if statement_ms:
        arguments["options"] = f"-c statement_timeout={statement_ms}"
    return {name: value for name, value in arguments.items() if name not in url.query}


class _Watchdog:
    """Closes the socket of a connection still waiting for the server after its deadline."""

    def __init__(self) -> None:
        self._deadlines: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._cut: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._log = BurstLog(logger, CUT_LOG_INTERVAL_SECONDS)

    def expect_answer(self, connection: Any, seconds: float | None) -> None:
        """``connection`` (psycopg) is about to wait for the server, for ``seconds`` at most."""
        with self._lock:
            if seconds is None:
                self._deadlines.pop(connection, None)
                return
            self._deadlines[connection] = time.monotonic() + seconds
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="database-deadlines", daemon=True
                )
                self._thread.start()

    def was_cut(self, connection: Any) -> bool:
        """True when this watchdog closed ``connection`` for missing its deadline."""
        with self._lock:
            return connection in self._cut

    def after_fork_in_child(self) -> None:
        # The parent's thread does not exist here, and its lock may have been held mid-fork.
        self._lock = threading.Lock()
        self._thread = None
        self._deadlines = weakref.WeakKeyDictionary()
        self._cut = weakref.WeakSet()

    def _watch(self) -> None:
        while True:
            time.sleep(WATCHDOG_INTERVAL_SECONDS)
            now = time.monotonic()
            cut = 0
            with self._lock:
                # Under the lock: a connection cannot start its next wait (and deadline) while
                # its previous one is judged.
                for connection, deadline in list(self._deadlines.items()):
                    if now > deadline and _is_waiting(connection):
                        del self._deadlines[connection]
                        self._cut.add(connection)
                        _close_socket(connection)
                        cut += 1
            for _ in range(cut):
                self._log.warning("the database did not answer in time: closed its connection")


def _is_waiting(connection: Any) -> bool:
    """True while a command of ``connection`` is in progress on the server."""
    return bool(connection.info.transaction_status == TransactionStatus.ACTIVE)


def _close_socket(connection: Any) -> None:
    # shutdown() ends the socket for its owner too (its wait sees the end of the stream) without
    # closing the owner's descriptor under it; only the duplicate is closed here.
    try:
        with socket.socket(fileno=os.dup(connection.fileno())) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed meanwhile


_watchdog = _Watchdog()
os.register_at_fork(after_in_child=_watchdog.after_fork_in_child)
# The default deadline of a statement of each watched engine (None: none).
_statement_seconds: weakref.WeakKeyDictionary[Engine, float | None] = weakref.WeakKeyDictionary()


def expect_driver_answer(connection: Connection) -> None:
    """Give the next command sent to the driver itself, past SQLAlchemy's events (a COPY), the
    deadline a statement on ``connection`` gets. Nothing for an engine that is not watched."""
    if connection.engine not in _statement_seconds:
        return
    seconds = connection.get_execution_options().get(
        STATEMENT_DEADLINE_OPTION, _statement_seconds[connection.engine]
    )
    _watchdog.expect_answer(connection.connection.dbapi_connection, seconds)


def watch_engine(engine: Engine, config: Mapping[str, Any]) -> None:
    """Give every wait of ``engine`` (psycopg) for the server a deadline."""
    ping_seconds = float(config["DATABASE_CONNECT_TIMEOUT"])
    statement_timeout = config["DATABASE_STATEMENT_TIMEOUT"]
    statement_seconds = statement_timeout + ping_seconds if statement_timeout else None
    _statement_seconds[engine] = statement_seconds

    @event.listens_for(engine, "connect")
    def _mark_fresh(_dbapi_connection: Any, record: Any) -> None:
        record.info[FRESH] = True

    @event.listens_for(engine, "checkin")
    def _note_return(_dbapi_connection: Any, record: Any) -> None:
        record.info[RETURNED] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        # SQLAlchemy's pool_pre_ping, with a deadline: a connection that waited in the pool is
        # checked before use (a server restart or an idle timeout may have closed it), unless it
        # was just opened or used a moment ago.
        if record.info.pop(FRESH, False):
            return
        if time.monotonic() - record.info.get(RETURNED, 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        _watchdog.expect_answer(dbapi_connection, ping_seconds)
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            if _watchdog.was_cut(dbapi_connection):
                raise  # the server is silent: no point in waiting again on a new connection
            # Closed meanwhile, as by a server restart: like pool_pre_ping, replace it and every
            # connection pooled before it with new ones.
            raise InvalidatePoolError(str(error)) from error

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(
        _connection: Any, cursor: Any, _sql: Any, _params: Any, context: Any, _many: bool
    ) -> None:
        seconds = context.execution_options.get(STATEMENT_DEADLINE_OPTION, statement_seconds)
        _watchdog.expect_answer(cursor.connection, seconds)

    @event.listens_for(engine, "commit")
    @event.listens_for(engine, "rollback")
    def _end_transaction(connection: Any) -> None:
        if connection.closed or connection.invalidated:
            return  # nothing will be sent
        seconds = connection.get_execution_options().get(
            STATEMENT_DEADLINE_OPTION, statement_seconds
        )
        _watchdog.expect_answer(connection.connection.dbapi_connection, seconds)

    @event.listens_for(engine, "reset")
    def _reset(dbapi_connection: Any, _record: Any, _state: Any) -> None:
        _watchdog.expect_answer(dbapi_connection, statement_seconds)
