"""Job and data rows for API tests, stored the way the executor stores them."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from website.extensions import db
from website.models import Data, Job, Task

__all__ = ["add_job"]


def add_job(
    task: Task,
    status: str = "succeeded",
    records: list[Any] | None = None,
    *,
    age: timedelta = timedelta(0),
    **fields: Any,
) -> Job:
    """A job of ``task`` finished ``age`` ago; a succeeded one with ``records`` becomes the task's
    current data, and the task's last_* fields describe it, as after a real run."""
    finished = datetime.now(UTC) - age
    unfinished = status in {"queued", "running"}
    job = Job(
        task_id=task.id,
        scheduled_for=finished - timedelta(seconds=1),
        status=status,
        queued_at=finished - timedelta(seconds=1),
        started_at=None if status == "queued" else finished - timedelta(seconds=0.5),
        finished_at=None if unfinished else finished,
        duration=None if unfinished else 0.5,
        records_count=None if records is None else len(records),
        **fields,
    )
    db.session.add(job)
    db.session.flush()
    if records is not None:
        db.session.add_all(
            Data(
                job_id=job.id,
                task_id=task.id,
                record_key=_key_of(record),
                payload=record,
                content_hash=hashlib.sha256(json.dumps(record).encode()).hexdigest(),
            )
            for record in records
        )
    if not unfinished:
        task.last_job_id = job.id
        task.last_execute_time = finished
        task.last_execution_status = status
        task.last_execution_time = job.duration
        task.last_execution_error = job.error
        if status == "succeeded" and records is not None:
            task.last_data_job_id = job.id
    db.session.commit()
    return job


def _key_of(record: Any) -> str | None:
    if isinstance(record, dict) and "id" in record:
        return str(record["id"])
    return None
