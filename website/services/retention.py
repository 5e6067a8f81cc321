"""Retention: keep the newest ``DATA_RETENTION_JOBS`` jobs of each task, with their data."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, select

from website.database import utcnow
from website.extensions import db
from website.models import FINAL_JOB_STATUSES, Data, Job, Task
from website.services.webhook_delivery import prune_finished_events

__all__ = ["PruneReport", "prune", "prune_task"]

logger = logging.getLogger(__name__)

TASK_PAGE_SIZE = 500  # tasks whose job counts one query looks at
DELETE_BATCH_SIZE = 1000  # rows deleted per transaction, so no lock is held for long
FINAL_STATUSES = sorted(status.value for status in FINAL_JOB_STATUSES)


@dataclass
class PruneReport:
    jobs_deleted: int = 0
    data_deleted: int = 0
    webhook_events_deleted: int = 0


def prune(keep: int | None = None) -> PruneReport:
    """Delete every task's jobs (and their data) beyond the newest ``keep``, and the webhook
    events finished longer than ``WEBHOOK_RETENTION_DAYS`` ago.

    Unfinished jobs and the jobs a task points at (its last job, and the job whose records are
    its current data) are kept even when older. Work goes page by page over the tasks and in
    small delete batches, each its own short transaction.
    """
    keep = keep or current_app.config["DATA_RETENTION_JOBS"]
    report = PruneReport()
    after_task_id = 0
    while True:
        page = (
            db.session.execute(
                select(Task.id)
                .where(Task.id > after_task_id)
                .order_by(Task.id)
                .limit(TASK_PAGE_SIZE)
            )
            .scalars()
            .all()
        )
        if not page:
            db.session.rollback()
            break
        after_task_id = page[-1]
        for task_id, newest_to_delete in _tasks_over_limit(page[0], page[-1], keep):
            prune_task(task_id, newest_to_delete, report)
        db.session.rollback()  # end the read transaction between pages
    if report.jobs_deleted:
        logger.info(
            "pruned %s jobs and %s records beyond %s jobs per task",
            report.jobs_deleted,
            report.data_deleted,
            keep,
        )
    report.webhook_events_deleted = prune_finished_events(utcnow())
    return report


def prune_task(task_id: int, newest_to_delete: int, report: PruneReport) -> None:
    """Delete the task's finished jobs up to ``newest_to_delete``, data first, in batches."""
    pointers = db.session.execute(
        select(Task.last_job_id, Task.last_data_job_id).where(Task.id == task_id)
    ).one_or_none()
    if pointers is None:
        db.session.rollback()
        return
    protected = {job_id for job_id in pointers if job_id is not None}
    while True:
        job_ids = list(
            db.session.execute(
                select(Job.id)
                .where(
                    Job.task_id == task_id,
                    Job.id <= newest_to_delete,
                    Job.status.in_(FINAL_STATUSES),
                    Job.id.not_in(protected),
                )
                .order_by(Job.id)
                .limit(DELETE_BATCH_SIZE)
            ).scalars()
        )
        db.session.rollback()
        if not job_ids:
            return
        report.data_deleted += _delete_data_of(job_ids)
        deleted = db.session.execute(
            delete(Job)
            .where(Job.id.in_(job_ids), Job.status.in_(FINAL_STATUSES))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        report.jobs_deleted += deleted.rowcount  # type: ignore[attr-defined]
        if len(job_ids) < DELETE_BATCH_SIZE:
            return


def _tasks_over_limit(first_task_id: int, last_task_id: int, keep: int) -> list[tuple[int, int]]:
    """(task id, id of its newest job beyond the ``keep`` newest) for tasks in the id range."""
    ranked = (
        select(
            Job.task_id,
            Job.id,
            func.row_number().over(partition_by=Job.task_id, order_by=Job.id.desc()).label("rank"),
        )
        .where(Job.task_id.between(first_task_id, last_task_id))
        .subquery()
    )
    rows = db.session.execute(
        select(ranked.c.task_id, ranked.c.id).where(ranked.c.rank == keep + 1)
    )
    return [(task_id, job_id) for task_id, job_id in rows]


def _delete_data_of(job_ids: list[int]) -> int:
    deleted = 0
    while True:
        batch = select(Data.id).where(Data.job_id.in_(job_ids)).limit(DELETE_BATCH_SIZE)
        result = db.session.execute(
            delete(Data)
            .where(Data.id.in_(batch.scalar_subquery()))
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        deleted += result.rowcount  # type: ignore[attr-defined]
        if result.rowcount < DELETE_BATCH_SIZE:  # type: ignore[attr-defined]
            return deleted
