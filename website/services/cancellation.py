"""Cancelling a job: a queued one never runs, a running one is interrupted or its result discarded.

Cancelling is one conditional update, ``queued|running -> cancelled``, committed before anything
else happens. Everything that could finish the job afterwards only touches a row still in the
state it expects: the worker's claim (``queued``), its finish and ``record_timeout`` (``running``,
claimed by it), the reconciler's lost-marking (``running``). So a cancelled job stays cancelled,
stores no records, and leaves its task alone: no attempt counted, no last_* field written, and
``next_run_at`` (already moved on by the claim) untouched, so the schedule goes on.
A running job's worker is then asked to abandon the fetch (``JobQueue.abandon``).
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from website.database import utcnow
from website.errors import Conflict
from website.extensions import db
from website.metrics import record_job_finished
from website.models import Job, JobStatus, User
from website.services.dispatch import job_queue
from website.services.jobs import get_job
from website.services.tasks import get_task

__all__ = ["cancel_job", "cancel_task_run"]

logger = logging.getLogger(__name__)

UNFINISHED = (JobStatus.QUEUED.value, JobStatus.RUNNING.value)


def cancel_job(job_id: int, owner_id: int | None, *, cancelled_by: int) -> Job:
    """Cancel the job if ``owner_id`` may see it; ``cancelled_by`` is the user asking.

    A job already cancelled is answered as it is; a finished one is a ``Conflict``.
    """
    get_job(job_id, owner_id)  # NotFound for another user's job
    return _cancel(job_id, cancelled_by)


def cancel_task_run(task_id: int, owner_id: int | None, *, cancelled_by: int) -> Job:
    """Cancel the task's queued or running job; ``Conflict`` when it has none."""
    task = get_task(task_id, owner_id)
    job_id = db.session.scalar(
        select(Job.id).where(Job.task_id == task.id, Job.status.in_(UNFINISHED))
    )
    if job_id is None:
        db.session.rollback()
        raise Conflict("No run of this task is queued or running")
    return _cancel(job_id, cancelled_by)


def _cancel(job_id: int, cancelled_by: int) -> Job:
    username = db.session.scalar(select(User.username).where(User.id == cancelled_by))
    cancelled = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(UNFINISHED))
        .values(
            status=JobStatus.CANCELLED.value,
            finished_at=utcnow(),
            error=f"Cancelled by {username or f'user {cancelled_by}'}",
        )
        .returning(Job.task_id, Job.started_at)
        .execution_options(synchronize_session=False)
    ).one_or_none()
    job = get_job(job_id, None)  # the row as it is now (read fresh, kept after the commit)
    db.session.commit()
    if cancelled is None:
        if job.status == JobStatus.CANCELLED:
            return job  # cancelled before: the same answer again
        raise Conflict(f"The job already finished: it {_finished_as(job.status)}")
    was_running = cancelled.started_at is not None
    record_job_finished(JobStatus.CANCELLED.value, None)
    logger.info(
        "job cancelled while %s",
        "running" if was_running else "queued",
        extra={"job_id": job_id, "task_id": cancelled.task_id, "user_id": cancelled_by},
    )
    if was_running:
        job_queue().abandon(job_id)
    return job


def _finished_as(status: str) -> str:
    return {
        JobStatus.SUCCEEDED: "succeeded",
        JobStatus.FAILED: "failed",
        JobStatus.TIMED_OUT: "timed out",
        JobStatus.LOST: "was lost",
    }.get(JobStatus(status), status)
