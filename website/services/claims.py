"""Claiming due tasks: one job queued per task, and the task moved along its grid."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    DateTime,
    Integer,
    bindparam,
    column,
    false,
    func,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from website.extensions import db
from website.models import Job, JobStatus, Task
from website.services.dispatch import JobMessage
from website.services.schedule import (
    catch_up_window,
    execution_deadline,
    is_runnable,
    next_run_after_claim,
)

__all__ = ["SCHEDULE_TRIGGER", "ClaimedBatch", "claim_due_tasks"]

logger = logging.getLogger(__name__)

SCHEDULE_TRIGGER = "schedule"


@dataclass(frozen=True)
class ClaimedBatch:
    """One claiming transaction: the jobs it queued, and how many due tasks it looked at."""

    messages: list[JobMessage]
    examined: int


def claim_due_tasks(now: datetime, batch_size: int) -> ClaimedBatch:
    """Queue one job for each of up to ``batch_size`` due tasks, in one committed transaction.

    Due tasks are locked with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite transactions are
    ``BEGIN IMMEDIATE``). A task whose job is still queued or running gets no second one: the
    partial unique index refuses it (``ON CONFLICT DO NOTHING``) and the slot is skipped. An
    expired or exhausted task leaves the due range (``next_run_at`` cleared).
    """
    rows: Sequence[Any] = db.session.execute(
        select(
            Task.id,
            Task.start_time,
            Task.end_time,
            Task.task_interval,
            Task.next_run_at,
            Task.attempt,
            Task.max_attempt,
            Task.enabled,
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
    catch_up = catch_up_window(current_app.config["SCHEDULER_TICK_SECONDS"])
    next_runs = [
        {"task": row.id, "next": next_run_after_claim(row, row.next_run_at, now, catch_up)}
        for row in rows
    ]
    new_jobs = [
        {"task_id": row.id, "scheduled_for": row.next_run_at, "attempt": row.attempt}
        for row in rows
        if is_runnable(row, now)
    ]
    if db.session.get_bind().dialect.name == "postgresql":
        inserted = _insert_jobs_from_arrays(new_jobs, now)
        _move_next_runs_from_arrays(next_runs)
    else:
        inserted = _insert_jobs_skipping_conflicts(new_jobs, now)
        _move_next_runs(next_runs)
    db.session.commit()
    by_task = {row.id: row for row in rows}
    messages = [
        JobMessage(
            job_id=job_id,
            task_id=task_id,
            priority=by_task[task_id].priority,
            due_at=by_task[task_id].next_run_at,
            deadline=execution_deadline(by_task[task_id].max_execution_time, current_app.config),
        )
        for job_id, task_id in inserted
    ]
    skipped = len(new_jobs) - len(messages)
    if skipped:
        logger.info("%s due tasks skipped a slot: their previous run is unfinished", skipped)
    return ClaimedBatch(messages, len(rows))


def _queued_job_values(now: datetime) -> dict[str, Any]:
    return {
        "trigger": SCHEDULE_TRIGGER,
        "status": JobStatus.QUEUED.value,
        "queued_at": now,
        "not_modified": False,
    }


def _insert_jobs_skipping_conflicts(
    rows: list[dict[str, Any]], now: datetime
) -> list[tuple[int, int]]:
    """Insert jobs, silently skipping any a unique constraint refuses; return (job id, task id)."""
    if not rows:
        return []
    statement = sqlite.insert(Job).on_conflict_do_nothing().returning(Job.id, Job.task_id)
    values = _queued_job_values(now)
    result = db.session.connection().execute(statement, [{**row, **values} for row in rows])
    return [(job_id, task_id) for job_id, task_id in result]


def _insert_jobs_from_arrays(rows: list[dict[str, Any]], now: datetime) -> list[tuple[int, int]]:
    """The same on PostgreSQL, in one statement of fixed text: ``INSERT ... SELECT FROM
    unnest(arrays)``, one array per column, rather than a VALUES list that grows with the batch."""
    if not rows:
        return []
    jobs = (
        func.unnest(
            _array([row["task_id"] for row in rows], Integer()),
            _array([row["scheduled_for"] for row in rows], DateTime(timezone=True)),
            _array([row["attempt"] for row in rows], Integer()),
        )
        .table_valued(
            column("task_id", Integer),
            column("scheduled_for", DateTime),
            column("attempt", Integer),
        )
        .render_derived()
    )
    values = _queued_job_values(now)
    statement = (
        postgresql.insert(Job)
        .from_select(
            ["task_id", "scheduled_for", "attempt", *values],
            select(
                jobs.c.task_id,
                jobs.c.scheduled_for,
                jobs.c.attempt,
                literal(values["trigger"]),
                literal(values["status"]),
                literal(now, Job.queued_at.type),
                false(),
            ),
        )
        .on_conflict_do_nothing()
        .returning(Job.id, Job.task_id)
    )
    result = db.session.connection().execute(statement)
    return [(job_id, task_id) for job_id, task_id in result]


def _array(values: list[Any], item_type: Any) -> Any:
    return bindparam(None, values, type_=postgresql.ARRAY(item_type))


def _move_next_runs(rows: list[dict[str, Any]]) -> None:
    # updated_at keeps its value: it tells when the owner last changed the task.
    statement = (
        update(Task)
        .where(Task.id == bindparam("task"))
        .values(next_run_at=bindparam("next"), updated_at=Task.updated_at)
    )
    db.session.connection().execute(statement, rows)


def _move_next_runs_from_arrays(rows: list[dict[str, Any]]) -> None:
    """The same on PostgreSQL: one ``UPDATE ... FROM unnest(arrays)``."""
    moves = (
        func.unnest(
            _array([row["task"] for row in rows], Integer()),
            _array([row["next"] for row in rows], DateTime(timezone=True)),
        )
        .table_valued(column("task", Integer), column("next", DateTime))
        .render_derived()
    )
    db.session.connection().execute(
        update(Task)
        .where(Task.id == moves.c.task)
        .values(next_run_at=moves.c.next, updated_at=Task.updated_at)
    )
