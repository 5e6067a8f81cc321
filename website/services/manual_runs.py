"""A manual run: one job of a task queued now, outside its schedule, and published."""

from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from website.database import utcnow
from website.errors import Conflict, NotFound
from website.extensions import db
from website.models import Job, JobStatus, Task
from website.services.dispatch import JobMessage, publish_jobs
from website.services.schedule import execution_deadline

__all__ = ["MANUAL_TRIGGER", "run_task_now"]

logger = logging.getLogger(__name__)

MANUAL_TRIGGER = "manual"


def run_task_now(task_id: int) -> Job:
    """Queue one run of the task now and publish it after commit.

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
    message = JobMessage(
        job_id=job.id,
        task_id=task.id,
        priority=task.priority,
        due_at=now,
        deadline=execution_deadline(task.max_execution_time, current_app.config),
    )
    publish_jobs([message])
    return job
