"""Jobs: one execution of a task, from queued to a final state."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from website.database import UTCDateTime, db, utcnow

if TYPE_CHECKING:
    from website.models.task import Task


class JobStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    LOST = "lost"  # its worker died: the lease ran out
    CANCELLED = "cancelled"


FINAL_JOB_STATUSES = frozenset(
    {
        JobStatus.SUCCEEDED,
        JobStatus.FAILED,
        JobStatus.TIMED_OUT,
        JobStatus.LOST,
        JobStatus.CANCELLED,
    }
)
_STATUS_LIST = ", ".join(f"'{status.value}'" for status in JobStatus)
_UNFINISHED = "status IN ('queued', 'running')"


class Job(db.Model):  # type: ignore[name-defined]
    __tablename__ = "jobs"
    __table_args__ = (
        # Two beats or two ticks cannot dispatch the same slot twice.
        UniqueConstraint("task_id", "scheduled_for", "attempt"),
        # At most one queued-or-running job per task: a slow task's next slot is skipped.
        Index(
            "ux_jobs_one_unfinished_per_task",
            "task_id",
            unique=True,
            sqlite_where=text(_UNFINISHED),
            postgresql_where=text(_UNFINISHED),
        ),
        # The reconciler's scans and the job lists.
        Index("ix_jobs_status_queued_at", "status", "queued_at"),
        Index("ix_jobs_task_id_id", "task_id", "id"),
        CheckConstraint(f"status IN ({_STATUS_LIST})", name="status"),
        CheckConstraint("attempt >= 0", name="attempt_not_negative"),
        # A deleted job's id is never given again (SQLite reuses the highest rowid otherwise).
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    attempt: Mapped[int] = mapped_column(default=0)  # the task's failure count when queued
    trigger: Mapped[str] = mapped_column(String(16), default="schedule")  # schedule | manual
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration: Mapped[float | None]  # seconds from start to finish
    http_status: Mapped[int | None]
    error: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(255))
    not_modified: Mapped[bool] = mapped_column(default=False)  # the server answered 304
    records_count: Mapped[int | None]
    records_added: Mapped[int | None]
    records_changed: Mapped[int | None]
    records_removed: Mapped[int | None]

    task: Mapped[Task] = relationship(back_populates="jobs", foreign_keys=[task_id])

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_JOB_STATUSES

    def __repr__(self) -> str:
        return f"<Job {self.id} task={self.task_id} {self.status}>"
