"""Turns for writing transactions on SQLite, among the threads and processes of the engine.

SQLite lets one transaction write at a time, and every transaction here takes the write lock up
front (``BEGIN IMMEDIATE``). A connection that finds it taken sleeps in SQLite's busy handler for
1, 2, 5 ... up to 100 ms before trying again, so workers waiting for each other lose most of their
time asleep. Write turns hand the lock over at once instead: a lock shared by the threads of a
process, and a file lock (``flock``) beside the database shared by every process that takes
turns (the threads or prefork children of workers, ticks, ``challenge feed``). Writers that take
no turn (the API) still meet the busy handler. On PostgreSQL this does nothing.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from website.extensions import db

__all__ = ["TURN_FILE_SUFFIX", "write_turn"]

TURN_FILE_SUFFIX = "-write-turn"  # the lock file: the database's path plus this
TURN_FILE_MODE = 0o644


class _Turns:
    """This process's turn lock, how deeply each thread holds it, and its open lock files."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.held = threading.local()  # .depth: nested write_turn blocks of this thread
        self.files: dict[str, int] = {}  # database path -> descriptor of its lock file

    def file_for(self, database: str | None) -> int | None:
        """The descriptor of ``database``'s lock file (None for an in-memory database)."""
        if not database or database == ":memory:":
            return None
        descriptor = self.files.get(database)
        if descriptor is None:
            path = os.path.abspath(database) + TURN_FILE_SUFFIX
            descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, TURN_FILE_MODE)
            self.files[database] = descriptor
        return descriptor


_turns = _Turns()


def _forget_parent_turns() -> None:
    # A forked child shares its parent's lock file descriptions, and with them the parent's
    # flock: it needs descriptors of its own (closing the copies releases nothing of the parent's).
    global _turns
    for descriptor in _turns.files.values():
        os.close(descriptor)
    _turns = _Turns()


os.register_at_fork(after_in_child=_forget_parent_turns)


@contextmanager
def write_turn() -> Iterator[None]:
    """Hold the SQLite write turn for one transaction; roll it back on an error.

    Use it around a whole transaction, from its first statement to its commit.
    """
    if db.engine.dialect.name != "sqlite" or _session_in_transaction():
        # Only whole transactions take turns: a thread that already holds SQLite's lock and then
        # waited for the turn could wait for a thread that waits for SQLite's lock.
        yield
        return
    turns = _turns
    with turns.lock:
        depth = getattr(turns.held, "depth", 0)
        descriptor = turns.file_for(db.engine.url.database) if depth == 0 else None
        if descriptor is not None:
            fcntl.flock(descriptor, fcntl.LOCK_EX)  # waits without holding the GIL
        turns.held.depth = depth + 1
        try:
            yield
        except BaseException:
            db.session.rollback()  # never leave the database locked behind the turn
            raise
        finally:
            turns.held.depth = depth
            if descriptor is not None:
                fcntl.flock(descriptor, fcntl.LOCK_UN)


def _session_in_transaction() -> bool:
    # Without a session in this scope there is no transaction (and none is made just to ask).
    return bool(db.session.registry.has() and db.session().in_transaction())
