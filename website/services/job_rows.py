"""The engine's per-job statements, built once as Core statements.

A worker runs these for every job, hundreds of times a second: building ORM statements each time
cost several times the database work itself, so they are prepared here once, with bind
parameters. The executor runs them on one connection per transaction (``transaction()``);
the scheduler's callers may leave ``connection`` out and run them in the session's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Dialect, Row

from website.extensions import db
from website.models import DATA, JOBS, TASKS, JobStatus
from website.services.write_turns import write_turn

__all__ = [
    "LockedTask",
    "claim",
    "claim_returning",
    "finish",
    "insert_records",
    "lock_task",
    "lock_tasks",
    "previous_hashes",
    "read_for_claim",
    "record_run",
    "transaction",
]

READ_FOR_CLAIM = (
    select(
        JOBS.c.task_id,
        JOBS.c.status,
        TASKS.c.url,
        TASKS.c.parameters,
        TASKS.c.etag,
        TASKS.c.last_modified,
        TASKS.c.max_execution_time,
    )
    .join(TASKS, TASKS.c.id == JOBS.c.task_id)
    .where(JOBS.c.id == bindparam("job_id"))
)
CLAIM = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("job_id"), JOBS.c.status == JobStatus.QUEUED.value)
    .values(
        status=JobStatus.RUNNING.value,
        started_at=bindparam("b_started_at"),
        lease_until=bindparam("b_lease_until"),
        worker=bindparam("b_worker"),
    )
)
# The claim and the read in one statement, when the deadline (hence the lease) is known before
# the task is read: the task's fields come back from scalar subqueries (SQLite >= 3.35 and
# PostgreSQL both return them; SQLite's RETURNING cannot name a joined table).
CLAIM_RETURNING = CLAIM.returning(
    JOBS.c.task_id,
    *(
        select(column).where(TASKS.c.id == JOBS.c.task_id).scalar_subquery().label(column.name)
        for column in (TASKS.c.url, TASKS.c.parameters, TASKS.c.etag, TASKS.c.last_modified)
    ),
)
_LOCKED_COLUMNS = (
    TASKS.c.id,
    TASKS.c.attempt,
    TASKS.c.max_attempt,
    TASKS.c.task_interval,
    TASKS.c.start_time,
    TASKS.c.end_time,
    TASKS.c.enabled,
    TASKS.c.next_run_at,
    TASKS.c.last_data_job_id,
    TASKS.c.etag,
    TASKS.c.last_modified,
)
# FOR UPDATE on PostgreSQL; SQLite's transactions hold the database's write lock already.
LOCK_TASK = select(*_LOCKED_COLUMNS).where(TASKS.c.id == bindparam("task_id")).with_for_update()
PREVIOUS_HASHES = select(DATA.c.record_key, DATA.c.content_hash).where(
    DATA.c.job_id == bindparam("job_id"), DATA.c.record_key.is_not(None)
)
# Only the run this worker claimed: same task, same start, still running. SQLite may hand a
# deleted job's id to a new job, which must never receive an old run's result.
FINISH = (
    update(JOBS)
    .where(
        JOBS.c.id == bindparam("w_job_id"),
        JOBS.c.task_id == bindparam("w_task_id"),
        JOBS.c.started_at == bindparam("w_started_at"),
        JOBS.c.status == JobStatus.RUNNING.value,
    )
    .values(
        status=bindparam("b_status"),
        finished_at=bindparam("b_finished_at"),
        duration=bindparam("b_duration"),
        http_status=bindparam("b_http_status"),
        not_modified=bindparam("b_not_modified"),
        error=bindparam("b_error"),
        records_count=bindparam("b_records_count"),
        records_added=bindparam("b_records_added"),
        records_changed=bindparam("b_records_changed"),
        records_removed=bindparam("b_records_removed"),
    )
)
# A record's row, in this order: payload is the record's canonical JSON text, stored as it is
# (the JSON type would serialise the record again), which both databases accept for JSON.
RECORD_COLUMNS = ("job_id", "task_id", "record_key", "payload", "content_hash")
INSERT_RECORD = insert(DATA).values({name: bindparam(name) for name in RECORD_COLUMNS}).inline()
# One array per column (psycopg's positional markers); the same text every time, so psycopg
# prepares it on the server after a few jobs.
POSTGRESQL_INSERT_RECORDS = (
    "INSERT INTO data (job_id, task_id, record_key, payload, content_hash) "
    "SELECT * FROM unnest(%s::integer[], %s::integer[], %s::varchar[], %s::json[], %s::varchar[])"
)
RUN_FIELDS = (
    "last_job_id",
    "last_data_job_id",
    "last_execute_time",
    "last_execution_status",
    "last_execution_error",
    "last_execution_time",
    "attempt",
    "next_run_at",
    "etag",
    "last_modified",
)
# updated_at keeps its value: it tells when the owner last changed the task.
RECORD_RUN = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("task_id"))
    .values(
        {name: bindparam(f"b_{name}") for name in RUN_FIELDS} | {"updated_at": TASKS.c.updated_at}
    )
)


@dataclass(frozen=True)
class LockedTask:
    """The fields of a locked task that finishing a run reads."""

    id: int
    attempt: int
    max_attempt: int
    task_interval: int
    start_time: datetime
    end_time: datetime | None
    enabled: bool
    next_run_at: datetime | None
    last_data_job_id: int | None
    etag: str | None
    last_modified: str | None

    @classmethod
    def from_row(cls, row: Row[Any]) -> LockedTask:
        return cls(**row._mapping)


@contextmanager
def transaction() -> Iterator[Connection]:
    """One transaction on a connection of its own, committed at the end of the block.

    On SQLite it runs in the write turn. A Core connection straight from the engine costs a
    fraction of the ORM session's bookkeeping, which these rows never need. A job checks one
    out for each of its two transactions, never across its fetch: a worker's threads then share
    a few pooled connections instead of each holding one while it waits for the network.
    """
    with write_turn(), db.engine.begin() as connection:
        yield connection


def _execute(connection: Connection | None, statement: Any, parameters: Any) -> Any:
    return (connection or db.session.connection()).execute(statement, parameters)


def read_for_claim(connection: Connection, job_id: int) -> Row[Any] | None:
    row: Row[Any] | None = _execute(connection, READ_FOR_CLAIM, {"job_id": job_id}).first()
    return row


def claim(
    connection: Connection, job_id: int, started_at: datetime, lease_until: datetime, worker: str
) -> bool:
    """queued -> running; False when another delivery (or nothing) got there first."""
    parameters = _claim_parameters(job_id, started_at, lease_until, worker)
    return bool(_execute(connection, CLAIM, parameters).rowcount == 1)


def claim_returning(
    connection: Connection, job_id: int, started_at: datetime, lease_until: datetime, worker: str
) -> Row[Any] | None:
    """queued -> running, returning the task's ``url, parameters, etag, last_modified``.

    None when another delivery (or nothing) got there first: the same conditional update as
    ``claim``, so a duplicate delivery changes nothing.
    """
    parameters = _claim_parameters(job_id, started_at, lease_until, worker)
    row: Row[Any] | None = _execute(connection, CLAIM_RETURNING, parameters).first()
    return row


def _claim_parameters(
    job_id: int, started_at: datetime, lease_until: datetime, worker: str
) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "b_started_at": started_at,
        "b_lease_until": lease_until,
        "b_worker": worker,
    }


def lock_task(connection: Connection, task_id: int) -> LockedTask | None:
    row = _execute(connection, LOCK_TASK, {"task_id": task_id}).first()
    return None if row is None else LockedTask.from_row(row)


def lock_tasks(task_ids: set[int], connection: Connection | None = None) -> dict[int, LockedTask]:
    """Several tasks, locked in id order (a fixed order keeps PostgreSQL free of deadlocks)."""
    statement = (
        select(*_LOCKED_COLUMNS)
        .where(TASKS.c.id.in_(sorted(task_ids)))
        .order_by(TASKS.c.id)
        .with_for_update()
    )
    return {row.id: LockedTask.from_row(row) for row in _execute(connection, statement, {})}


def previous_hashes(connection: Connection, job_id: int) -> dict[str, str]:
    """``{record_key: content_hash}`` of a job's records."""
    return dict(_execute(connection, PREVIOUS_HASHES, {"job_id": job_id}).all())


def finish(
    connection: Connection, job_id: int, task_id: int, started_at: datetime, **values: Any
) -> bool:
    """running -> a final state with ``values``; False when the run is no longer ours."""
    parameters = {
        "w_job_id": job_id,
        "w_task_id": task_id,
        "w_started_at": started_at,
        "b_http_status": None,
        "b_not_modified": False,
        "b_error": None,
        "b_records_count": None,
        "b_records_added": None,
        "b_records_changed": None,
        "b_records_removed": None,
        **{f"b_{name}": value for name, value in values.items()},
    }
    return bool(_execute(connection, FINISH, parameters).rowcount == 1)


def insert_records(connection: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """All of a job's records in one statement; each row holds ``RECORD_COLUMNS`` in order.

    Handed to the driver as they are: the values are plain ints and strings (the payload already
    JSON text), so SQLAlchemy's per-row parameter processing, most of this insert's cost when it
    ran as a Core statement, has nothing to do. PostgreSQL gets the columns as arrays in one
    INSERT ... SELECT FROM unnest(...): a third of the server's work of one INSERT per row.
    """
    if not rows:
        return
    if connection.dialect.name == "postgresql":
        columns = [list(column) for column in zip(*rows, strict=True)]
        connection.exec_driver_sql(POSTGRESQL_INSERT_RECORDS, tuple(columns))
    else:
        connection.exec_driver_sql(_insert_records_sql(connection.dialect), rows)


@lru_cache(maxsize=4)
def _insert_records_sql(dialect: Dialect) -> str:
    """``INSERT_RECORD`` as this dialect's SQL with positional markers, for tuples of values."""
    paramstyle = "qmark" if dialect.paramstyle == "qmark" else "format"  # "?" or "%s"
    dialect_class: Any = type(dialect)  # every SQLAlchemy dialect takes a paramstyle
    return str(INSERT_RECORD.compile(dialect=dialect_class(paramstyle=paramstyle)))


def record_run(task_id: int, values: dict[str, Any], connection: Connection | None = None) -> None:
    """Write the task's last-run fields (every one of ``RUN_FIELDS``)."""
    parameters = {"task_id": task_id, **{f"b_{name}": values[name] for name in RUN_FIELDS}}
    _execute(connection, RECORD_RUN, parameters)
