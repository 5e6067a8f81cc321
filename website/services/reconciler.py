"""Repairing what got stuck: running jobs past their lease, queued jobs nobody started."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import ColumnElement, and_, func, select, update

from website.database import utcnow
from website.extensions import db
from website.metrics import record_job_finished
from website.models import Job, JobStatus, Task
from website.services import notifications
from website.services.dispatch import JobMessage, job_queue, publish_jobs
from website.services.job_store import JobStore
from website.services.schedule import execution_deadline, failed_run
from website.services.write_turns import write_turn

__all__ = [
    "LOST_JOB_ERROR",
    "mark_lost_jobs",
    "republish_stale_jobs",
    "take_waiting_jobs",
    "waiting_since",
]

logger = logging.getLogger(__name__)

LOST_JOB_ERROR = "Worker lost: no result before the lease ran out"


def mark_lost_jobs(now: datetime) -> list[int]:
    """Running jobs past their lease become ``lost``: a failure of their task."""
    expired = db.session.execute(
        select(Job.id, Job.task_id)
        .where(Job.status == JobStatus.RUNNING, Job.lease_until < now)
        .limit(current_app.config["SCHEDULER_BATCH"])
    ).all()
    if not expired:
        db.session.rollback()
        return []
    store = JobStore(db.session.connection())
    tasks = store.lock_tasks({row.task_id for row in expired})
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
    finished_at = utcnow()
    for job_id, task_id, started_at in lost:
        run = failed_run(
            tasks[task_id],
            job_id=job_id,
            status=JobStatus.LOST,
            error=LOST_JOB_ERROR,
            duration=None,
            started_at=started_at,
            now=finished_at,
        )
        store.record_run(task_id, run)
        notifications.job_failed(
            store.connection, tasks[task_id], run, job_id, JobStatus.LOST, finished_at
        )
        if run.attempt >= tasks[task_id].max_attempt:
            logger.warning("task exhausted by a lost job", extra={"task_id": task_id})
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
    if job_queue().backlog() != 0:
        return []
    cutoff = now - timedelta(seconds=current_app.config["REQUEUE_AFTER"])
    with write_turn():
        messages = take_waiting_jobs(now, cutoff)
    published = publish_jobs(messages, measure_lag=False)
    if published:
        logger.warning("republished %s queued jobs nobody started", len(published))
    return published


def waiting_since(cutoff: datetime) -> ColumnElement[bool]:
    """Queued jobs last published (or queued, if never published) at or before ``cutoff``.

    Publishing follows queueing, so such a job was also queued before ``cutoff``: saying so lets
    the ``(status, queued_at)`` index bound the scan to the jobs queued before it.
    """
    return and_(
        Job.status == JobStatus.QUEUED,
        Job.queued_at <= cutoff,
        func.coalesce(Job.published_at, Job.queued_at) <= cutoff,
    )


def take_waiting_jobs(now: datetime, cutoff: datetime, overdue: bool = False) -> list[JobMessage]:
    """Queued jobs waiting since before ``cutoff``, oldest first, marked as just published so that
    no other tick takes them; their messages (``overdue`` ones if asked) to publish."""
    config = current_app.config
    rows = db.session.execute(
        select(Job.id, Job.task_id, Job.scheduled_for, Task.priority, Task.max_execution_time)
        .join(Task, Task.id == Job.task_id)
        .where(waiting_since(cutoff))
        .order_by(Job.queued_at, Job.id)
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
            deadline=execution_deadline(row.max_execution_time, config),
            overdue=overdue,
        )
        for row in rows
    ]
