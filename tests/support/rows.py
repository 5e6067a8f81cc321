"""Reading and nudging engine rows from a test, without holding a transaction open.

Reads run as read-only transactions (a snapshot on SQLite, no write lock) and every helper ends
its transaction before it returns: worker and beat subprocesses are never blocked by the test.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, update

from website.database import read_only_transactions
from website.extensions import db
from website.models import Data, Job, Task

__all__ = ["data_of", "jobs_of", "set_job", "set_task", "task_exists", "task_row"]


def task_row(task_id: int) -> Task:
    """The task as stored now."""
    with read_only_transactions():
        task = db.session.execute(
            select(Task).where(Task.id == task_id).execution_options(populate_existing=True)
        ).scalar_one()
    db.session.commit()  # ends the read; expire_on_commit is off, so the rows stay loaded
    return task


def jobs_of(task_id: int) -> list[Job]:
    """The task's jobs as stored now, oldest first."""
    with read_only_transactions():
        jobs = list(
            db.session.execute(
                select(Job)
                .where(Job.task_id == task_id)
                .order_by(Job.id)
                .execution_options(populate_existing=True)
            ).scalars()
        )
    db.session.commit()  # ends the read; expire_on_commit is off, so the rows stay loaded
    return jobs


def data_of(job_id: int) -> list[Data]:
    rows = list(db.session.execute(select(Data).where(Data.job_id == job_id)).scalars())
    db.session.commit()  # ends the read; expire_on_commit is off, so the rows stay loaded
    return rows


def set_task(task_id: int, **values: Any) -> None:
    db.session.execute(update(Task).where(Task.id == task_id).values(**values))
    db.session.commit()


def set_job(job_id: int, **values: Any) -> None:
    db.session.execute(update(Job).where(Job.id == job_id).values(**values))
    db.session.commit()


def task_exists(task_id: int) -> bool:
    found = db.session.scalar(select(func.count()).where(Task.id == task_id))
    db.session.commit()
    return bool(found)
