"""One run of each of a set of tasks, now: queue them, wait for their jobs, and report how it went.

``run_report`` is a pure function over the jobs' outcomes, so that the CLI only prints it.
"""

from __future__ import annotations

import math
import statistics
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select

from website.database import read_only_transactions
from website.errors import Conflict
from website.extensions import db
from website.models import FINAL_JOB_STATUSES, Job, JobStatus, Task
from website.services.manual_runs import run_task_now

__all__ = [
    "JobOutcome",
    "RunReport",
    "job_outcomes",
    "run_report",
    "run_tasks_once",
    "wait_for_jobs",
]

SLOWEST_SHOWN = 5  # the report names this many of the slowest runs
P95 = 0.95
WAIT_POLL_SECONDS = 0.5  # how often waiting reads the jobs again
FAILED_STATUSES = (JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.LOST, JobStatus.CANCELLED)


@dataclass(frozen=True)
class JobOutcome:
    """Where one job stands: its task, its status and, once finished, how long it ran."""

    job_id: int
    task_id: int
    task_name: str
    status: str
    duration: float | None
    error: str | None


@dataclass(frozen=True)
class RunReport:
    """How a set of runs went. ``failed`` counts every finished run that did not succeed."""

    total: int
    succeeded: int
    failed: int
    by_status: dict[str, int]
    unfinished: list[JobOutcome]
    wall_time: float
    mean_time: float | None
    p95_time: float | None
    slowest: list[JobOutcome] = field(default_factory=list)

    @property
    def all_succeeded(self) -> bool:
        return self.succeeded == self.total

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_report(outcomes: Sequence[JobOutcome], wall_time: float) -> RunReport:
    """The report of ``outcomes``: counts by status, mean and p95 run time, the slowest runs."""
    statuses = Counter(outcome.status for outcome in outcomes)
    finished = [outcome for outcome in outcomes if outcome.status in FINAL_JOB_STATUSES]
    durations = sorted(o.duration for o in finished if o.duration is not None)
    slowest = sorted(
        (o for o in finished if o.duration is not None),
        key=lambda outcome: (-(outcome.duration or 0.0), outcome.job_id),
    )
    return RunReport(
        total=len(outcomes),
        succeeded=statuses[JobStatus.SUCCEEDED],
        failed=len(finished) - statuses[JobStatus.SUCCEEDED],
        by_status={status.value: statuses[status] for status in FAILED_STATUSES},
        unfinished=[o for o in outcomes if o.status not in FINAL_JOB_STATUSES],
        wall_time=wall_time,
        mean_time=statistics.fmean(durations) if durations else None,
        p95_time=_nearest_rank(durations, P95),
        slowest=slowest[:SLOWEST_SHOWN],
    )


def run_tasks_once(task_ids: Iterable[int]) -> list[int]:
    """Queue one run of each task now; the job ids, in the tasks' order.

    A task whose run is already queued or running (the scheduler got there first) keeps it:
    that run is its run.
    """
    job_ids = []
    for task_id in task_ids:
        while True:
            try:
                job_ids.append(run_task_now(task_id).id)
                break
            except Conflict:
                under_way = db.session.scalar(
                    select(Job.id).where(
                        Job.task_id == task_id,
                        Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value]),
                    )
                )
                if under_way is not None:  # else it finished meanwhile: queue another
                    job_ids.append(under_way)
                    break
    return job_ids


def job_outcomes(job_ids: Sequence[int]) -> list[JobOutcome]:
    """The jobs' outcomes, read fresh, in the order of ``job_ids``."""
    db.session.rollback()  # a new snapshot: workers have written since
    with read_only_transactions():  # on SQLite, waiting must not hold the workers' write lock
        rows = db.session.execute(
            select(Job.id, Job.task_id, Task.name, Job.status, Job.duration, Job.error)
            .join(Task, Task.id == Job.task_id)
            .where(Job.id.in_(job_ids))
        ).all()
        db.session.rollback()
    by_id = {row.id: JobOutcome(*row) for row in rows}
    return [by_id[job_id] for job_id in job_ids if job_id in by_id]


def wait_for_jobs(job_ids: Sequence[int], timeout: float) -> list[JobOutcome]:
    """The jobs' outcomes once every one has finished, or as they stand after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        outcomes = job_outcomes(job_ids)
        finished = all(outcome.status in FINAL_JOB_STATUSES for outcome in outcomes)
        if finished or time.monotonic() >= deadline:
            return outcomes
        time.sleep(min(WAIT_POLL_SECONDS, max(0.0, deadline - time.monotonic())))


def _nearest_rank(ordered: Sequence[float], fraction: float) -> float | None:
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
