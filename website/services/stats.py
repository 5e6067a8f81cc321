"""Statistics over one owner's tasks and jobs, or everyone's: states, outcomes and timings."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, select

from website.database import utcnow
from website.errors import InvalidInput, NotFound
from website.extensions import db
from website.models import Job, JobStatus, Task, TaskState
from website.models.task import state_expression
from website.services.users import get_user_by_username

__all__ = [
    "DEFAULT_WINDOW_SECONDS",
    "MAX_WINDOW_SECONDS",
    "MIN_WINDOW_SECONDS",
    "ExecutionTime",
    "JobStats",
    "Stats",
    "TaskStats",
    "collect_stats",
    "collect_stats_for_username",
    "count_jobs_by_status",
    "count_tasks_by_state",
]

DEFAULT_WINDOW_SECONDS = 24 * 3600  # the last day
MIN_WINDOW_SECONDS = 60  # a minute
MAX_WINDOW_SECONDS = 90 * 24 * 3600  # ninety days; retention usually keeps far less
PERCENTILE = 0.95  # the "p95" of execution times, by the nearest-rank method
# Outcomes that count for the success rate; a cancelled job neither succeeded nor failed.
DECIDED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.LOST)
# Jobs that ran, so that their duration says how long an execution takes.
TIMED_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT)


@dataclass(frozen=True)
class ExecutionTime:
    """Seconds the jobs of the window took to run (None when none ran)."""

    mean: float | None
    p95: float | None


@dataclass(frozen=True)
class TaskStats:
    """Tasks per state, right now."""

    by_state: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_state.values())


@dataclass(frozen=True)
class JobStats:
    """The jobs queued in the window: per status, how many succeeded, how long they ran."""

    by_status: dict[str, int]
    success_rate: float | None  # succeeded / (succeeded + failed + timed_out + lost)
    execution_time: ExecutionTime

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class Stats:
    """What ``GET /stats`` and ``challenge stats`` show."""

    owner_id: int | None  # None: every user's tasks
    window_seconds: int
    since: datetime
    until: datetime
    tasks: TaskStats
    jobs: JobStats

    @property
    def scope(self) -> str:
        return "all" if self.owner_id is None else "user"


def count_tasks_by_state(owner_id: int | None, now: datetime | None = None) -> dict[str, int]:
    """Tasks per state (every state present, zero or not)."""
    state = state_expression(now or utcnow()).label("state")
    query = select(state, func.count()).group_by(state)
    if owner_id is not None:
        query = query.where(Task.owner_id == owner_id)
    counts = dict.fromkeys((state.value for state in TaskState), 0)
    counts.update({row[0]: row[1] for row in db.session.execute(query)})
    return counts


def count_jobs_by_status(owner_id: int | None, since: datetime | None = None) -> dict[str, int]:
    """Jobs per status (every status present), optionally only those queued since ``since``."""
    query = _scoped_jobs(select(Job.status, func.count()), owner_id, since).group_by(Job.status)
    counts = dict.fromkeys((status.value for status in JobStatus), 0)
    counts.update({row[0]: row[1] for row in db.session.execute(query)})
    return counts


def _scoped_jobs(query: Select, owner_id: int | None, since: datetime | None) -> Select:
    if owner_id is not None:
        query = query.join(Task, Task.id == Job.task_id).where(Task.owner_id == owner_id)
    if since is not None:
        query = query.where(Job.queued_at >= since)
    return query


def _execution_time(owner_id: int | None, since: datetime) -> ExecutionTime:
    timed = and_(
        Job.status.in_([status.value for status in TIMED_STATUSES]), Job.duration.is_not(None)
    )
    count, mean = db.session.execute(
        _scoped_jobs(select(func.count(), func.avg(Job.duration)), owner_id, since).where(timed)
    ).one()
    if not count:
        return ExecutionTime(mean=None, p95=None)
    rank = math.ceil(PERCENTILE * count)  # nearest rank: the smallest value >= 95% of them
    p95 = db.session.scalar(
        _scoped_jobs(select(Job.duration), owner_id, since)
        .where(timed)
        .order_by(Job.duration)
        .offset(rank - 1)
        .limit(1)
    )
    return ExecutionTime(mean=float(mean), p95=float(p95) if p95 is not None else None)


def collect_stats(owner_id: int | None, window_seconds: int = DEFAULT_WINDOW_SECONDS) -> Stats:
    """Tasks by state now, and the jobs queued in the last ``window_seconds``."""
    if not MIN_WINDOW_SECONDS <= window_seconds <= MAX_WINDOW_SECONDS:
        message = f"Must be between {MIN_WINDOW_SECONDS} and {MAX_WINDOW_SECONDS} seconds."
        raise InvalidInput(f"Invalid window: {message}", {"window": [message]})
    until = utcnow()
    since = until - timedelta(seconds=window_seconds)
    jobs_by_status = count_jobs_by_status(owner_id, since)
    decided = sum(jobs_by_status[status.value] for status in DECIDED_STATUSES)
    stats = Stats(
        owner_id=owner_id,
        window_seconds=window_seconds,
        since=since,
        until=until,
        tasks=TaskStats(by_state=count_tasks_by_state(owner_id, until)),
        jobs=JobStats(
            by_status=jobs_by_status,
            success_rate=jobs_by_status[JobStatus.SUCCEEDED.value] / decided if decided else None,
            execution_time=_execution_time(owner_id, since),
        ),
    )
    db.session.rollback()  # read-only: end the transaction (SQLite holds a write lock in it)
    return stats


def collect_stats_for_username(
    username: str | None, window_seconds: int = DEFAULT_WINDOW_SECONDS
) -> Stats:
    """``collect_stats`` for the user called ``username``, or for everyone when it is None."""
    if username is None:
        return collect_stats(None, window_seconds)
    user = get_user_by_username(username)
    if user is None:
        raise NotFound(f"No user named {username!r}")
    return collect_stats(user.id, window_seconds)
