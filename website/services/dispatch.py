"""Publishing queued jobs to the workers, only after the transaction that queued them committed.

The queue is a port, ``JobQueue``: the Celery side installs it as ``app.extensions["job_queue"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import current_app
from sqlalchemy import ColumnElement, Integer, any_, bindparam, update
from sqlalchemy.dialects import postgresql

from website.database import utcnow
from website.extensions import db
from website.metrics import record_dispatch
from website.models import Job
from website.services.write_turns import write_turn

__all__ = ["JobMessage", "JobQueue", "job_queue", "publish_jobs"]


@dataclass(frozen=True)
class JobMessage:
    """What a worker needs to run one queued job, and what the publisher measures."""

    job_id: int
    task_id: int
    priority: int  # the task's priority, 9 = most urgent
    due_at: datetime  # the slot the job runs for (dispatch lag is measured from it)
    deadline: float  # seconds the fetch may take
    overdue: bool = False  # waited past PRIORITY_MAX_WAIT_SECONDS: goes before every priority


class JobQueue(Protocol):
    """Where queued jobs wait for a worker."""

    def publish(self, messages: Sequence[JobMessage]) -> list[int]:
        """Send ``fetch.run_job`` for each message; the job ids that reached the broker.

        A message is served by its priority (9 first); an ``overdue`` one before every other.

        Never raises for an unreachable broker: the jobs left out stay queued for the reconciler.
        """
        ...

    def backlog(self) -> int | None:
        """Messages waiting for a worker; None when the broker cannot say."""
        ...

    def abandon(self, job_id: int) -> None:
        """Ask the workers to stop the run of a job already marked cancelled, wherever it runs.

        Best effort and asynchronous: a worker that cannot interrupt the run (or never hears the
        request) lets it finish, and its result is discarded (the job is no longer running).
        Never raises for an unreachable broker.
        """
        ...

    def overdue_backlog(self) -> int | None:
        """Messages of overdue jobs waiting for a worker; None when the broker cannot say."""
        ...


def job_queue() -> JobQueue:
    """The current app's job queue."""
    queue: JobQueue = current_app.extensions["job_queue"]
    return queue


def publish_jobs(messages: Sequence[JobMessage], measure_lag: bool = True) -> list[int]:
    """Publish each message; mark the jobs that reached the broker published and return them.

    Jobs left out stay queued (``published_at`` unset): the reconciler publishes them later.
    ``measure_lag`` observes the delay from each job's slot (not for republished jobs).
    """
    if not messages:
        return []
    published = job_queue().publish(messages)
    if measure_lag:
        now = utcnow()
        sent = set(published)
        for message in messages:
            if message.job_id in sent:
                record_dispatch((now - message.due_at).total_seconds())
    if published:
        with write_turn():
            db.session.execute(
                update(Job)
                .where(_job_id_in(published))
                .values(published_at=utcnow())
                # Jobs loaded in the session (a manual run's) get the new value too.
                .execution_options(synchronize_session="fetch")
            )
            db.session.commit()
    return published


def _job_id_in(job_ids: list[int]) -> ColumnElement[bool]:
    """``jobs.id IN (...)``; on PostgreSQL ``= ANY(array)``, one parameter whatever the count, so
    that the statement's text (parsed by the driver, planned by the server) stays the same."""
    if db.session.get_bind().dialect.name == "postgresql":
        return Job.id == any_(bindparam(None, job_ids, type_=postgresql.ARRAY(Integer())))
    return Job.id.in_(job_ids)
