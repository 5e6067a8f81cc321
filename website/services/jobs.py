"""Reading a task's runs: its jobs, the records they brought back, and its status.

As in ``website.services.tasks``, ``owner_id`` scopes every query (``None``: every user's), and
another user's task, job or data is "not found".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select

from website.database import utcnow
from website.errors import NotFound
from website.extensions import db
from website.models import DATA, JOBS, TASKS, Data, Job, JobStatus, Task, TaskState
from website.models.task import state_at
from website.services.pagination import counted_page, page_of
from website.services.tasks import get_task, owned_by

__all__ = [
    "LastExecutionData",
    "TaskStatus",
    "get_job",
    "get_task_status",
    "list_job_data",
    "list_jobs",
    "list_task_data",
    "list_task_jobs",
]


# The columns of a task that its status shows or derives its state from.
STATUS_TASK_COLUMNS = (
    TASKS.c.id,
    TASKS.c.enabled,
    TASKS.c.attempt,
    TASKS.c.max_attempt,
    TASKS.c.start_time,
    TASKS.c.end_time,
    TASKS.c.task_interval,
    TASKS.c.next_run_at,
    TASKS.c.last_job_id,
    TASKS.c.last_execute_time,
    TASKS.c.last_execution_status,
    TASKS.c.last_execution_error,
    TASKS.c.last_execution_time,
)
# The columns of a task's last successful job that its status shows.
LAST_DATA_JOB_FIGURES = (
    JOBS.c.id.label("job_id"),
    JOBS.c.finished_at,
    JOBS.c.records_count,
    JOBS.c.records_added,
    JOBS.c.records_changed,
    JOBS.c.records_removed,
)


@dataclass(frozen=True)
class LastExecutionData:
    """The first records of a task's last successful job, and how many it holds in all."""

    job_id: int
    fetched_at: datetime | None
    total: int
    records: list[Any]
    records_added: int | None
    records_changed: int | None
    records_removed: int | None


@dataclass(frozen=True)
class TaskStatus:
    """How a task's runs are going; a task that never ran has ``None`` in the last_* fields."""

    id: int
    state: TaskState
    execution_time: float | None
    last_execute_time: datetime | None
    last_execution_status: str | None
    last_execution_error: str | None
    last_execution_data: LastExecutionData | None
    last_job_id: int | None
    attempt: int
    max_attempt: int
    next_run_at: datetime | None


def get_task_status(task_id: int, owner_id: int | None, *, record_limit: int) -> TaskStatus:
    """The task's status, with at most ``record_limit`` records of its last successful job."""
    # The task and its last successful job's figures in one round trip, its records in another;
    # plain rows, read fresh (a worker may have changed them since).
    query = (
        select(*STATUS_TASK_COLUMNS, *LAST_DATA_JOB_FIGURES)
        .outerjoin(JOBS, JOBS.c.id == TASKS.c.last_data_job_id)
        .where(TASKS.c.id == task_id)
    )
    row = db.session.execute(owned_by(query, owner_id)).one_or_none()
    if row is None:
        raise NotFound("Task not found")
    return TaskStatus(
        id=row.id,
        state=state_at(row, utcnow()),
        execution_time=row.last_execution_time,
        last_execute_time=row.last_execute_time,
        last_execution_status=row.last_execution_status,
        last_execution_error=row.last_execution_error,
        last_execution_data=_last_execution_data(row, record_limit),
        last_job_id=row.last_job_id,
        attempt=row.attempt,
        max_attempt=row.max_attempt,
        next_run_at=row.next_run_at,
    )


def list_task_jobs(
    task_id: int,
    owner_id: int | None,
    *,
    page: int,
    page_size: int,
    status: str | None = None,
) -> tuple[Sequence[Job], int]:
    """One page of the task's jobs, newest first, optionally of one status, and the total."""
    task = get_task(task_id, owner_id)
    query = select(Job).where(Job.task_id == task.id)
    if status is not None:
        query = query.where(Job.status == JobStatus(status).value)
    return counted_page(query.order_by(Job.id.desc()), page=page, page_size=page_size)


def list_jobs(
    owner_id: int | None,
    *,
    page: int,
    page_size: int,
    statuses: Sequence[str] = (),
    task_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> tuple[Sequence[Job], int]:
    """One page of the jobs of every task ``owner_id`` may see, newest first, and the total.

    ``statuses`` keeps jobs of any of them; ``since`` (inclusive) and ``until`` (exclusive)
    bound the time each job was queued. ``GET /jobs?status=failed&status=timed_out&status=lost``
    is the dead-letter view.
    """
    query = select(Job)
    if owner_id is not None:
        query = query.join(Task, Task.id == Job.task_id).where(Task.owner_id == owner_id)
    if statuses:
        wanted = sorted({JobStatus(status).value for status in statuses})
        query = query.where(Job.status.in_(wanted))
    if task_id is not None:
        query = query.where(Job.task_id == task_id)
    if since is not None:
        query = query.where(Job.queued_at >= since)
    if until is not None:
        query = query.where(Job.queued_at < until)
    return counted_page(query.order_by(Job.id.desc()), page=page, page_size=page_size)


def get_job(job_id: int, owner_id: int | None) -> Job:
    """The job, if ``owner_id`` may see its task."""
    query = select(Job).where(Job.id == job_id)
    if owner_id is not None:
        query = query.join(Task, Task.id == Job.task_id).where(Task.owner_id == owner_id)
    job = db.session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if job is None:
        raise NotFound("Job not found")
    return job


def list_job_data(
    job_id: int, owner_id: int | None, *, page: int, page_size: int
) -> tuple[Sequence[Data], int]:
    """One page of the records a job brought back, in the order of the response."""
    job = get_job(job_id, owner_id)
    return _data_page(job, page=page, page_size=page_size)


def list_task_data(
    task_id: int, owner_id: int | None, *, page: int, page_size: int
) -> tuple[Sequence[Data], int]:
    """One page of the task's current records: those of its last successful job."""
    task = get_task(task_id, owner_id)
    job = _job_or_none(task.last_data_job_id)
    if job is None:
        return [], 0
    return _data_page(job, page=page, page_size=page_size)


def _job_or_none(job_id: int | None) -> Job | None:
    if job_id is None:
        return None
    return db.session.get(Job, job_id, populate_existing=True)


def _data_page(job: Job, *, page: int, page_size: int) -> tuple[Sequence[Data], int]:
    total = _record_count(job)
    in_response_order = select(Data).where(Data.job_id == job.id).order_by(Data.id)
    return page_of(in_response_order, total=total, page=page, page_size=page_size), total


def _record_count(job: Job) -> int:
    # The executor stores the count with the job; older rows fall back to counting.
    if job.records_count is not None:
        return job.records_count
    return db.session.scalar(select(func.count(Data.id)).where(Data.job_id == job.id)) or 0


def _last_execution_data(row: Row[*tuple[Any, ...]], record_limit: int) -> LastExecutionData | None:
    """From a row of ``LAST_DATA_JOB_FIGURES``: the job's figures and its first records."""
    if row.job_id is None:
        return None  # no success yet (or the job is gone with its task)
    first_records = (
        select(DATA.c.payload)
        .where(DATA.c.job_id == row.job_id)
        .order_by(DATA.c.id)
        .limit(record_limit)
    )
    records = db.session.scalars(first_records).all()
    total = row.records_count
    if total is None:  # older rows: count them
        total = db.session.scalar(select(func.count(Data.id)).where(Data.job_id == row.job_id))
    return LastExecutionData(
        job_id=row.job_id,
        fetched_at=row.finished_at,
        total=total or 0,
        records=list(records),
        records_added=row.records_added,
        records_changed=row.records_changed,
        records_removed=row.records_removed,
    )
