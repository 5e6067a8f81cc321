"""Turns for writing transactions on SQLite among the threads of one process.

Every SQLite transaction here takes the write lock up front (``BEGIN IMMEDIATE``); a thread that
finds it taken would sleep in SQLite's busy handler, so threads of one process hand the turn over
through a lock instead. On PostgreSQL this does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from website.extensions import db

__all__ = ["write_turn"]

_TURN = threading.RLock()


@contextmanager
def write_turn() -> Iterator[None]:
    """Hold the process's SQLite write turn for one transaction; roll it back on an error.

    Use it around a whole transaction, from its first statement to its commit.
    """
    if db.engine.dialect.name != "sqlite" or _session_in_transaction():
        # Only whole transactions take turns: a thread that already holds SQLite's lock and then
        # waited for the turn could wait for a thread that waits for SQLite's lock.
        yield
        return
    with _TURN:
        try:
            yield
        except BaseException:
            db.session.rollback()  # never leave the database locked behind the turn
            raise


def _session_in_transaction() -> bool:
    # Without a session in this scope there is no transaction (and none is made just to ask).
    return bool(db.session.registry.has() and db.session().in_transaction())
