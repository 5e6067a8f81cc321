"""The scheduler: claim due tasks, queue their jobs, publish them, and repair what got stuck.

One tick, run by beat every ``SCHEDULER_TICK_SECONDS`` (or ``challenge feed``):

1. ``mark_lost_jobs``: running jobs whose lease ran out become ``lost`` (a failure).
2. ``claim_due_tasks`` in batches: one transaction locks due tasks (``FOR UPDATE SKIP LOCKED`` on
   PostgreSQL; SQLite transactions are ``BEGIN IMMEDIATE``), inserts one queued job per task and
   moves ``next_run_at`` along the task's grid; after commit the jobs are published.
3. ``republish_stale_jobs``: queued jobs nobody started within ``REQUEUE_AFTER`` are published
   again (their message was lost, e.g. Redis was flushed); a duplicate delivery is a no-op.

Lock order, everywhere: a task row before its jobs' rows, so that PostgreSQL never deadlocks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select, true, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from website.database import read_only_transactions, utcnow
from website.errors import Conflict, NotFound
from website.extensions import db
from website.metrics import record_job_finished
from website.models import Job, JobStatus, Task
from website.services import job_rows
from website.services.dispatch import JobMessage, broker_backlog, publish_jobs
from website.services.executor import execution_deadline, failure_values
from website.services.slots import next_slot_after
from website.services.write_turns import write_turn

__all__ = [
    "ClaimedBatch",
    "TickReport",
    "claim_due_tasks",
    "mark_lost_jobs",
    "republish_stale_jobs",
    "run_task_now",
    "tick",
]

logger = logging.getLogger(__name__)

LOST_JOB_ERROR = "Worker lost: no result before the lease ran out"
# A slot due by less than this (or one tick, if longer) when its predecessor is claimed is late,
# not missed: it still runs. Beyond it, missed slots coalesce into one run.
MIN_CATCH_UP_SECONDS = 1.0
MANUAL_TRIGGER = "manual"
SCHEDULE_TRIGGER = "schedule"


@dataclass(frozen=True)
class ClaimedBatch:
    """One claiming transaction: the jobs it queued, and how many due tasks it looked at."""

    messages: list[JobMessage]
    examined: int


@dataclass
class TickReport:
    """What one tick did, for logs and ``challenge feed``."""

    dispatched: list[JobMessage] = field(default_factory=list)
    published: set[int] = field(default_factory=set)
    lost: list[int] = field(default_factory=list)
    republished: list[int] = field(default_factory=list)

    @property
    def unpublished(self) -> int:
        return sum(1 for message in self.dispatched if message.job_id not in self.published)


def tick(now: datetime | None = None) -> TickReport:
    """One scheduler tick: mark lost jobs, dispatch every due task, republish stale jobs."""
    now = now or utcnow()
    batch_size = current_app.config["SCHEDULER_BATCH"]
    with read_only_transactions():  # on SQLite a snapshot: idle ticks never hold the write lock
        work = _pending_work(now)
    report = TickReport()
    if work.lost:
        with write_turn():
            report.lost = mark_lost_jobs(now)
    while work.due:
        with write_turn():
            batch = claim_due_tasks(now, batch_size)
        report.dispatched.extend(batch.messages)
        report.published.update(publish_jobs(batch.messages))
        if batch.examined < batch_size:
            break
    if work.stale:
        report.republished = republish_stale_jobs(now)
    if report.dispatched or report.lost or report.republished:
        logger.info(
            "tick: %s dispatched (%s left queued), %s lost, %s republished",
            len(report.dispatched),
            report.unpublished,
            len(report.lost),
            len(report.republished),
        )
    return report


@dataclass(frozen=True)
class PendingWork:
    due: bool  # a task is due
    lost: bool  # a running job's lease ran out
    stale: bool  # a queued job waits for a republish


def _pending_work(now: datetime) -> PendingWork:
    """One indexed query says what this tick has to do: most ticks have nothing to do."""
    cutoff = now - timedelta(seconds=current_app.config["REQUEUE_AFTER"])
    # Shaped like the claim (ORDER BY next_run_at LIMIT 1), so that the due index answers it even
    # when the planner's statistics are stale; EXISTS could make PostgreSQL scan every task.
    first_due = (
        select(Task.id)
        .where(Task.enabled == true(), Task.next_run_at <= now)
        .order_by(Task.next_run_at)
        .limit(1)
        .scalar_subquery()
    )
    lost = select(Job.id).where(Job.status == JobStatus.RUNNING, Job.lease_until < now)
    stale = select(Job.id).where(
        Job.status == JobStatus.QUEUED, func.coalesce(Job.published_at, Job.queued_at) <= cutoff
    )
    row = db.session.execute(select(first_due, lost.exists(), stale.exists())).one()
    db.session.rollback()
    return PendingWork(due=row[0] is not None, lost=bool(row[1]), stale=bool(row[2]))


def claim_due_tasks(now: datetime, batch_size: int) -> ClaimedBatch:
    """Queue one job for each of up to ``batch_size`` due tasks, in one committed transaction.

    A task whose job is still queued or running gets no second one: the partial unique index
    refuses it (``ON CONFLICT DO NOTHING``) and the slot is skipped. Missed slots coalesce: the
    task moves to its first grid slot after ``now``. An expired or exhausted task leaves the due
    range (``next_run_at`` cleared), so it costs nothing on later ticks.
    """
    rows = db.session.execute(
        select(
            Task.id,
            Task.start_time,
            Task.end_time,
            Task.task_interval,
            Task.next_run_at,
            Task.attempt,
            Task.max_attempt,
            Task.priority,
            Task.max_execution_time,
        )
        .where(Task.enabled == true(), Task.next_run_at <= now)
        .order_by(Task.next_run_at)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        db.session.rollback()
        return ClaimedBatch([], 0)
    new_jobs: list[dict[str, Any]] = []
    next_runs: list[dict[str, Any]] = []
    catch_up = timedelta(
        seconds=max(current_app.config["SCHEDULER_TICK_SECONDS"], MIN_CATCH_UP_SECONDS)
    )
    for row in rows:
        next_runs.append({"task": row.id, "next": _next_run_after_claim(row, now, catch_up)})
        if _is_runnable(row, now):
            new_jobs.append(
                {
                    "task_id": row.id,
                    "scheduled_for": row.next_run_at,
                    "attempt": row.attempt,
                    "trigger": SCHEDULE_TRIGGER,
                    "status": JobStatus.QUEUED.value,
                    "queued_at": now,
                    "not_modified": False,
                }
            )
    inserted = _insert_jobs_skipping_conflicts(new_jobs)
    _move_next_runs(next_runs)
    db.session.commit()
    by_task = {row.id: row for row in rows}
    messages = [
        JobMessage(
            job_id=job_id,
            task_id=task_id,
            priority=by_task[task_id].priority,
            due_at=by_task[task_id].next_run_at,
            deadline=execution_deadline(by_task[task_id].max_execution_time),
        )
        for job_id, task_id in inserted
    ]
    skipped = len(new_jobs) - len(messages)
    if skipped:
        logger.info("%s due tasks skipped a slot: their previous run is unfinished", skipped)
    return ClaimedBatch(messages, len(rows))


def mark_lost_jobs(now: datetime) -> list[int]:
    """Running jobs past their lease become ``lost``: a failure of their task."""
    batch_size = current_app.config["SCHEDULER_BATCH"]
    expired = db.session.execute(
        select(Job.id, Job.task_id)
        .where(Job.status == JobStatus.RUNNING, Job.lease_until < now)
        .limit(batch_size)
    ).all()
    if not expired:
        db.session.rollback()
        return []
    tasks = job_rows.lock_tasks({row.task_id for row in expired})
    lost = db.session.execute(
        update(Job)
        .where(
            Job.id.in_([row.id for row in expired]),
            Job.status == JobStatus.RUNNING,
            Job.lease_until < now,
        )
        .values(status=JobStatus.LOST, finished_at=now, error=LOST_JOB_ERROR)
        .returning(Job.id, Job.task_id, Job.started_at)
        .execution_options(synchronize_session=False)
    ).all()
    for job_id, task_id, started_at in lost:
        values = failure_values(
            tasks[task_id], job_id, JobStatus.LOST, LOST_JOB_ERROR, None, started_at
        )
        job_rows.record_run(task_id, values)
    db.session.commit()
    for job_id, task_id, _started_at in lost:
        record_job_finished(JobStatus.LOST.value, None)
        logger.warning("job lost: its lease ran out", extra={"job_id": job_id, "task_id": task_id})
    return [job_id for job_id, _task_id, _started_at in lost]


def republish_stale_jobs(now: datetime) -> list[int]:
    """Publish again the queued jobs that no worker started within ``REQUEUE_AFTER``.

    Only while the broker's queue is empty: a job whose message still waits there (workers busy
    or down) needs no copy, and republishing every period would pile copies up in Redis.
    """
    if broker_backlog() != 0:
        return []
    with write_turn():
        messages = _take_stale_jobs(now)
    published = publish_jobs(messages, measure_lag=False)
    if published:
        logger.warning("republished %s queued jobs nobody started", len(published))
    return published


def _take_stale_jobs(now: datetime) -> list[JobMessage]:
    """Queued jobs nobody started in time, marked as just published so no other tick takes them."""
    config = current_app.config
    cutoff = now - timedelta(seconds=config["REQUEUE_AFTER"])
    rows = db.session.execute(
        select(Job.id, Job.task_id, Job.scheduled_for, Task.priority, Task.max_execution_time)
        .join(Task, Task.id == Job.task_id)
        .where(
            Job.status == JobStatus.QUEUED,
            func.coalesce(Job.published_at, Job.queued_at) <= cutoff,
        )
        .order_by(Job.id)
        .limit(config["SCHEDULER_BATCH"])
        .with_for_update(of=Job, skip_locked=True)
    ).all()
    if not rows:
        db.session.rollback()
        return []
    # Taking them (published_at = now) first keeps a concurrent tick from publishing them too.
    db.session.execute(
        update(Job)
        .where(Job.id.in_([row.id for row in rows]))
        .values(published_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return [
        JobMessage(
            job_id=row.id,
            task_id=row.task_id,
            priority=row.priority,
            due_at=row.scheduled_for,
            deadline=execution_deadline(row.max_execution_time),
        )
        for row in rows
    ]


def run_task_now(task_id: int) -> Job:
    """Queue one run of the task now, outside its schedule, and publish it after commit.

    Raises ``Conflict`` when a run of the task is already queued or running.
    """
    task = db.session.execute(
        select(Task)
        .where(Task.id == task_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if task is None:
        db.session.rollback()
        raise NotFound("Task not found")
    now = utcnow()
    job = Job(
        task_id=task.id,
        scheduled_for=now,
        attempt=task.attempt,
        trigger=MANUAL_TRIGGER,
        status=JobStatus.QUEUED.value,
        queued_at=now,
        published_at=None,  # loaded, so that publishing updates it on the returned job
    )
    db.session.add(job)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("A run of this task is already queued or running") from None
    logger.info("manual run queued", extra={"task_id": task.id, "job_id": job.id})
    publish_jobs(
        [
            JobMessage(
                job_id=job.id,
                task_id=task.id,
                priority=task.priority,
                due_at=now,
                deadline=execution_deadline(task.max_execution_time),
            )
        ]
    )
    return job


def _is_runnable(row: Any, now: datetime) -> bool:
    expired = row.end_time is not None and now >= row.end_time
    return not expired and row.attempt < row.max_attempt and now >= row.start_time


def _next_run_after_claim(row: Any, now: datetime, catch_up: timedelta) -> datetime | None:
    """Where a claimed task's ``next_run_at`` goes: its next grid slot, or nowhere.

    Slots missed while nothing ran coalesce: the next run is the first slot after ``now``. But
    the slot right after the claimed one, when it is due already by less than ``catch_up``, is
    late (a delayed tick, a busy machine), not missed: it runs at the next tick.
    """
    if row.end_time is not None and now >= row.end_time:
        return None  # expired
    if row.attempt >= row.max_attempt:
        return None  # exhausted until its attempt is reset
    if now < row.start_time:
        return row.start_time  # not open yet (never scheduled before its window)
    slot = next_slot_after(row.start_time, row.task_interval, now)
    following = next_slot_after(row.start_time, row.task_interval, row.next_run_at)
    if following <= now and now - following < catch_up:
        slot = following
    return None if row.end_time is not None and slot >= row.end_time else slot


def _insert_jobs_skipping_conflicts(rows: list[dict[str, Any]]) -> list[tuple[int, int]]:
    """Insert jobs, silently skipping any a unique constraint refuses; return (job id, task id)."""
    if not rows:
        return []
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(Job).on_conflict_do_nothing().returning(Job.id, Job.task_id)
    result = db.session.connection().execute(statement, rows)
    return [(job_id, task_id) for job_id, task_id in result]


def _move_next_runs(rows: list[dict[str, Any]]) -> None:
    # updated_at keeps its value: it tells when the owner last changed the task.
    statement = (
        update(Task)
        .where(Task.id == bindparam("task"))
        .values(next_run_at=bindparam("next"), updated_at=Task.updated_at)
    )
    db.session.connection().execute(statement, rows)
