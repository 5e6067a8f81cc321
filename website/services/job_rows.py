"""The engine's per-job statements, built once as Core statements.

A worker runs these for every job, hundreds of times a second: building ORM statements each time
cost several times the database work itself, so they are prepared here once, with bind
parameters, and run on the session's connection (the session's transaction, commit and
rollback still apply).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Row

from website.extensions import db
from website.models import Data, Job, JobStatus, Task

__all__ = [
    "LockedTask",
    "claim",
    "finish",
    "insert_records",
    "lock_task",
    "lock_tasks",
    "previous_hashes",
    "read_for_claim",
    "record_run",
]

JOBS = Job.__table__
TASKS = Task.__table__
DATA = Data.__table__

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
INSERT_RECORDS = insert(DATA)
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


def _execute(statement: Any, parameters: Any) -> Any:
    return db.session.connection().execute(statement, parameters)


def read_for_claim(job_id: int) -> Row[Any] | None:
    row: Row[Any] | None = _execute(READ_FOR_CLAIM, {"job_id": job_id}).first()
    return row


def claim(job_id: int, started_at: datetime, lease_until: datetime, worker: str) -> bool:
    """queued -> running; False when another delivery (or nothing) got there first."""
    result = _execute(
        CLAIM,
        {
            "job_id": job_id,
            "b_started_at": started_at,
            "b_lease_until": lease_until,
            "b_worker": worker,
        },
    )
    return bool(result.rowcount == 1)


def lock_task(task_id: int) -> LockedTask | None:
    row = _execute(LOCK_TASK, {"task_id": task_id}).first()
    return None if row is None else LockedTask.from_row(row)


def lock_tasks(task_ids: set[int]) -> dict[int, LockedTask]:
    """Several tasks, locked in id order (a fixed order keeps PostgreSQL free of deadlocks)."""
    statement = (
        select(*_LOCKED_COLUMNS)
        .where(TASKS.c.id.in_(sorted(task_ids)))
        .order_by(TASKS.c.id)
        .with_for_update()
    )
    return {row.id: LockedTask.from_row(row) for row in _execute(statement, {})}


def previous_hashes(job_id: int) -> dict[str, str]:
    """``{record_key: content_hash}`` of a job's records."""
    return {row[0]: row[1] for row in _execute(PREVIOUS_HASHES, {"job_id": job_id})}


def finish(job_id: int, task_id: int, started_at: datetime, **values: Any) -> bool:
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
    return bool(_execute(FINISH, parameters).rowcount == 1)


def insert_records(rows: list[dict[str, Any]]) -> None:
    """One executemany for all of a job's records."""
    if rows:
        _execute(INSERT_RECORDS, rows)


def record_run(task_id: int, values: dict[str, Any]) -> None:
    """Write the task's last-run fields (every one of ``RUN_FIELDS``)."""
    _execute(RECORD_RUN, {"task_id": task_id, **{f"b_{name}": values[name] for name in RUN_FIELDS}})
