"""Fetch tasks: what to fetch, when, how the last run went, and their state (Python and SQL)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import (
    JSON,
    BindParameter,
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    Text,
    and_,
    case,
    false,
    func,
    not_,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from website.database import UTCDateTime, db, utcnow
from website.models.job import JobStatus

if TYPE_CHECKING:
    from website.models.job import Job
    from website.models.user import User


class TaskState(enum.StrEnum):
    """A task's state, derived from its fields and the clock (never stored)."""

    PENDING = "pending"  # before start_time
    ACTIVE = "active"
    PAUSED = "paused"  # enabled is false
    EXHAUSTED = "exhausted"  # attempt >= max_attempt: waits for a reset
    EXPIRED = "expired"  # at or after end_time
    COMPLETED = "completed"  # a one-off task whose run succeeded: nothing more planned


class StateFields(Protocol):
    """What a task's state depends on: a ``Task``, or a row with these columns."""

    @property
    def end_time(self) -> datetime | None: ...
    @property
    def enabled(self) -> bool: ...
    @property
    def attempt(self) -> int: ...
    @property
    def max_attempt(self) -> int: ...
    @property
    def start_time(self) -> datetime: ...
    @property
    def task_interval(self) -> int | None: ...
    @property
    def next_run_at(self) -> datetime | None: ...
    @property
    def last_execution_status(self) -> str | None: ...


SUCCEEDED = JobStatus.SUCCEEDED.value
#: The largest ``retry_backoff``, in seconds: the first retry of a task waits at most this long.
MAX_RETRY_BACKOFF = 3600.0


class Task(db.Model):  # type: ignore[name-defined]
    __tablename__ = "tasks"
    __table_args__ = (
        CheckConstraint("task_interval > 0", name="task_interval_positive"),  # NULL: one-off
        CheckConstraint("retry_backoff > 0", name="retry_backoff_positive"),
        CheckConstraint("max_execution_time >= 0", name="max_execution_time_not_negative"),
        CheckConstraint("max_attempt >= 1", name="max_attempt_positive"),
        CheckConstraint("attempt >= 0", name="attempt_not_negative"),
        CheckConstraint("priority BETWEEN 0 AND 9", name="priority_range"),
        CheckConstraint("end_time IS NULL OR end_time > start_time", name="window_order"),
        CheckConstraint("stale_after IS NULL OR stale_after > 0", name="stale_after_positive"),
        # The scheduler's hot query: due, enabled tasks by next_run_at.
        Index("ix_tasks_due", "enabled", "next_run_at"),
        # A deleted task's id is never given again (SQLite reuses the highest rowid otherwise).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(2048))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Seconds between runs; None for a one-off task (it runs once, at start_time).
    task_interval: Mapped[int | None]
    # Seconds: the base of the exponential backoff between retries (1, 2, 4 ... times it).
    retry_backoff: Mapped[float] = mapped_column(default=1.0, server_default=text("1"))
    max_execution_time: Mapped[int] = mapped_column(default=0)
    max_attempt: Mapped[int] = mapped_column(default=3)
    attempt: Mapped[int] = mapped_column(default=0)
    enabled: Mapped[bool] = mapped_column(default=True)
    priority: Mapped[int] = mapped_column(default=5)
    next_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Plain ids rather than foreign keys: jobs already reference tasks, and a cycle of foreign keys
    # cannot be created or dropped on SQLite without rebuilding tables. Retention never prunes
    # the jobs these point at (the newest ones), and they go with the task.
    last_job_id: Mapped[int | None]
    # The job whose records are the task's current data (a 304 keeps the previous one).
    last_data_job_id: Mapped[int | None]
    last_execute_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_execution_status: Mapped[str | None] = mapped_column(String(16))
    last_execution_error: Mapped[str | None] = mapped_column(Text)
    last_execution_time: Mapped[float | None]  # seconds the last run took

    # Validators for conditional requests, from the last successful response.
    etag: Mapped[str | None] = mapped_column(String(512))
    last_modified: Mapped[str | None] = mapped_column(String(64))

    # A dead-man alert (task.stale): seconds without a successful run; stale_at is when the
    # current period without one ends (indexed for the tick), cleared once the event is sent.
    stale_after: Mapped[int | None]
    stale_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship(back_populates="tasks")
    jobs: Mapped[list[Job]] = relationship(
        back_populates="task",
        cascade="all, delete-orphan",
        passive_deletes=True,
        foreign_keys="Job.task_id",
    )

    def state_at(self, now: datetime) -> TaskState:
        """The task's state at ``now``; the first matching rule wins."""
        return state_at(self, now)

    @property
    def state(self) -> TaskState:
        return self.state_at(utcnow())

    def __repr__(self) -> str:
        return f"<Task {self.id} {self.name!r}>"


# A task's state, derived from its fields and the clock: the same rules in Python (state_at) and
# in SQL (state_condition, for listings and counts); tests/models/test_task_state.py checks that
# they agree for every state.


def is_completed(task: StateFields) -> bool:
    """A one-off task whose last run succeeded and that has no run planned: it is done.

    A manual run of a completed task leaves it completed while it is under way (and after, if it
    succeeds); a failure plans a retry, and the task is active again.
    """
    return (
        task.task_interval is None
        and task.next_run_at is None
        and task.last_execution_status == SUCCEEDED
    )


def state_at(task: StateFields, now: datetime) -> TaskState:
    """A task's state at ``now``; the first matching rule wins.

    ``completed`` comes first: a one-off task that did its work stays completed whatever its
    window or its ``enabled`` flag say later (nothing would run anyway).
    """
    if is_completed(task):
        return TaskState.COMPLETED
    if task.end_time is not None and now >= task.end_time:
        return TaskState.EXPIRED
    if not task.enabled:
        return TaskState.PAUSED
    if task.attempt >= task.max_attempt:
        return TaskState.EXHAUSTED
    if now < task.start_time:
        return TaskState.PENDING
    return TaskState.ACTIVE


def state_condition(
    state: TaskState, now: datetime | BindParameter[datetime]
) -> ColumnElement[bool]:
    """SQL for "the task is in ``state`` at ``now``": the rules of ``state_at``.

    ``now`` may be a bind parameter, for a statement built once and given the time when it runs.
    """
    columns = Task.__table__.c
    completed = and_(
        columns.task_interval.is_(None),
        columns.next_run_at.is_(None),
        # NULL (never ran) is not completed: coalesce, so that NOT(...) stays true, not NULL.
        func.coalesce(columns.last_execution_status, "") == SUCCEEDED,
    )
    expired = and_(not_(completed), columns.end_time.is_not(None), columns.end_time <= now)
    exhausted = columns.attempt >= columns.max_attempt
    enabled = columns.enabled == true()
    open_ = and_(
        not_(completed), not_(and_(columns.end_time.is_not(None), columns.end_time <= now))
    )
    conditions = {
        TaskState.COMPLETED: completed,
        TaskState.EXPIRED: expired,
        TaskState.PAUSED: and_(open_, columns.enabled == false()),
        TaskState.EXHAUSTED: and_(open_, enabled, exhausted),
        TaskState.PENDING: and_(open_, enabled, not_(exhausted), columns.start_time > now),
        TaskState.ACTIVE: and_(open_, enabled, not_(exhausted), columns.start_time <= now),
    }
    return conditions[state]


def state_expression(now: datetime | BindParameter[datetime]) -> ColumnElement[str]:
    """A task's state at ``now`` in SQL: the rules of ``state_condition``, as one expression."""
    return case(*((state_condition(state, now), state.value) for state in TaskState))
