"""The recent runs of tasks, as the dashboard shows them: a strip per task, a chart per task."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select

from website.extensions import db
from website.models import JOBS, TASKS, JobStatus
from website.services.stats import DECIDED_STATUSES

__all__ = ["DEFAULT_RECENT_RUNS", "RecentRuns", "RunPoint", "recent_runs"]

DEFAULT_RECENT_RUNS = 30  # runs in a task's strip on the tasks page
MAX_RECENT_RUNS = 500  # runs one call reads per task at most (a chart's widest view)

# The columns of a job a strip or a chart shows.
RUN_COLUMNS = (
    JOBS.c.id,
    JOBS.c.task_id,
    JOBS.c.status,
    JOBS.c.trigger,
    JOBS.c.scheduled_for,
    JOBS.c.started_at,
    JOBS.c.finished_at,
    JOBS.c.duration,
    JOBS.c.http_status,
    JOBS.c.records_added,
    JOBS.c.records_changed,
    JOBS.c.records_removed,
)
_DECIDED = frozenset(status.value for status in DECIDED_STATUSES)
_FAILED = frozenset({JobStatus.FAILED.value, JobStatus.TIMED_OUT.value, JobStatus.LOST.value})


@dataclass(frozen=True)
class RunPoint:
    """One run (job) of a task."""

    job_id: int
    status: str
    trigger: str
    scheduled_for: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration: float | None
    http_status: int | None
    records_added: int | None
    records_changed: int | None
    records_removed: int | None

    @property
    def succeeded(self) -> bool:
        return self.status == JobStatus.SUCCEEDED.value

    @property
    def failed(self) -> bool:
        return self.status in _FAILED


@dataclass(frozen=True)
class RecentRuns:
    """A task's last runs, oldest first."""

    runs: list[RunPoint] = field(default_factory=list)

    @property
    def success_rate(self) -> float | None:
        """Succeeded among the runs that succeeded or failed (as /stats counts); None if none."""
        decided = [run for run in self.runs if run.status in _DECIDED]
        if not decided:
            return None
        return sum(run.succeeded for run in decided) / len(decided)

    @property
    def last(self) -> RunPoint | None:
        return self.runs[-1] if self.runs else None


def recent_runs(
    task_ids: Sequence[int], owner_id: int | None, *, limit: int = DEFAULT_RECENT_RUNS
) -> dict[int, RecentRuns]:
    """The last ``limit`` runs of each task of ``task_ids`` that ``owner_id`` may see (None:
    every user's), in one query; a task without runs (or not visible) maps to no runs."""
    limit = max(1, min(limit, MAX_RECENT_RUNS))
    found: dict[int, RecentRuns] = {task_id: RecentRuns() for task_id in task_ids}
    if not task_ids:
        return found
    rank = (
        func.row_number().over(partition_by=JOBS.c.task_id, order_by=JOBS.c.id.desc()).label("rank")
    )
    ranked = (
        select(*RUN_COLUMNS, rank)
        .join(TASKS, TASKS.c.id == JOBS.c.task_id)
        .where(JOBS.c.task_id.in_(sorted(set(task_ids))))
    )
    if owner_id is not None:
        ranked = ranked.where(TASKS.c.owner_id == owner_id)
    inner = ranked.subquery()
    query = (
        select(*(inner.c[column.name] for column in RUN_COLUMNS))
        .where(inner.c.rank <= limit)
        .order_by(inner.c.task_id, inner.c.id)
    )
    for row in db.session.execute(query):
        found[row.task_id].runs.append(
            RunPoint(
                job_id=row.id,
                status=row.status,
                trigger=row.trigger,
                scheduled_for=row.scheduled_for,
                started_at=row.started_at,
                finished_at=row.finished_at,
                duration=row.duration,
                http_status=row.http_status,
                records_added=row.records_added,
                records_changed=row.records_changed,
                records_removed=row.records_removed,
            )
        )
    return found
