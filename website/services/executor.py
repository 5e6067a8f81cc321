"""Running one job: claim it, fetch, store the records, record success or failure on the task."""

from __future__ import annotations

import logging
import os
import random
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from flask import current_app
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from website.database import utcnow
from website.metrics import record_job_finished
from website.models import JobStatus
from website.services import job_rows
from website.services.fetch import (
    FetchError,
    FetchRequest,
    FetchResult,
    Record,
    diff_records,
    extract_records,
    fetch,
)
from website.services.job_rows import LockedTask
from website.services.slots import next_slot_after

__all__ = [
    "ClaimedJob",
    "claim_job",
    "execution_deadline",
    "failure_values",
    "retry_delay",
    "run_job",
    "worker_name",
]

logger = logging.getLogger(__name__)

BACKOFF_JITTER_FRACTION = 0.1  # up to 10% added to a retry delay, so failed tasks do not align
MAX_ERROR_LENGTH = 500  # characters of an error kept on the job and the task
MAX_RECORD_KEY_LENGTH = 255  # the width of data.record_key
HOST_NAME = socket.gethostname()


@dataclass(frozen=True)
class ClaimedJob:
    """A job this worker now owns, with what it needs from its task to run it."""

    job_id: int
    task_id: int
    url: str
    parameters: dict[str, Any]
    etag: str | None
    last_modified: str | None
    deadline: float
    started_at: datetime
    started_monotonic: float


def worker_name() -> str:
    """``host:pid`` of the process running the job (a prefork child's own pid, not its parent's)."""
    return f"{HOST_NAME}:{os.getpid()}"


def execution_deadline(max_execution_time: int) -> float:
    """A task's fetch deadline: its own limit, or the default when 0, capped by the maximum."""
    config = current_app.config
    seconds = max_execution_time or config["FETCH_DEFAULT_TIMEOUT"]
    return float(min(seconds, config["MAX_EXECUTION_TIME"]))


def retry_delay(attempt: int, interval: int) -> float:
    """Seconds before a failed task runs again: 1, 2, 4 ... capped at its interval, plus jitter."""
    base = min(2.0 ** max(attempt - 1, 0), float(interval))
    return min(base * (1 + random.uniform(0, BACKOFF_JITTER_FRACTION)), float(interval))


def run_job(job_id: int, deadline: float | None = None) -> str | None:
    """Run a queued job to a final state; None when it was not ours to run (a duplicate).

    ``deadline`` is the one its message was published with (``execution_deadline`` of the task
    then, which Celery's time limits are derived from too); without it (a message published
    before messages carried it) the deadline is read from the task.
    """
    claimed = claim_job(job_id, deadline)
    if claimed is None:
        return None
    try:
        result = fetch(
            FetchRequest(
                url=claimed.url,
                parameters=claimed.parameters,
                timeout=claimed.deadline,
                etag=claimed.etag,
                last_modified=claimed.last_modified,
            )
        )
        records = [] if result.not_modified else extract_records(result.payload, claimed.parameters)
    except FetchError as error:
        return _finish_failed(claimed, error.kind, error.message, error.http_status)
    except SoftTimeLimitExceeded:
        message = f"No result within {claimed.deadline:g} s"
        return _finish_failed(claimed, JobStatus.TIMED_OUT, message, None)
    except Exception:
        logger.exception("fetch crashed", extra=_ids(claimed))
        return _finish_failed(claimed, JobStatus.FAILED, "Internal error while fetching", None)
    try:
        return _finish_succeeded(claimed, result, records)
    except SQLAlchemyError as error:  # its transaction was rolled back
        logger.exception("storing the result failed", extra=_ids(claimed))
        message = f"Could not store the records: {type(error).__name__}"
        return _finish_failed(claimed, JobStatus.FAILED, message, result.status_code)


def claim_job(job_id: int, deadline: float | None = None) -> ClaimedJob | None:
    """Move the job from queued to running with a lease; None if it is not queued any more.

    With the deadline known, the claim is one statement that also returns the task's fields;
    without it the task is read first. The claim commits before the fetch starts: no
    transaction (and, on SQLite, no write lock) is held while waiting for the network.
    """
    if deadline is not None:
        return _claim_with_deadline(job_id, deadline)
    with job_rows.transaction() as connection:
        row = job_rows.read_for_claim(connection, job_id)
        if row is None or row.status != JobStatus.QUEUED:
            connection.rollback()
            logger.info("job not claimed: taken, finished or deleted", extra={"job_id": job_id})
            return None
        deadline = execution_deadline(row.max_execution_time)
        now = utcnow()
        claimed = job_rows.claim(
            connection, job_id, now, _lease_until(now, deadline), worker_name()
        )
    if not claimed:
        logger.info("job claimed by another delivery", extra={"job_id": job_id})
        return None
    return _claimed_job(job_id, row, deadline, now)


def _claim_with_deadline(job_id: int, deadline: float) -> ClaimedJob | None:
    now = utcnow()
    with job_rows.transaction() as connection:
        row = job_rows.claim_returning(
            connection, job_id, now, _lease_until(now, deadline), worker_name()
        )
    if row is None:
        logger.info("job not claimed: taken, finished or deleted", extra={"job_id": job_id})
        return None
    return _claimed_job(job_id, row, deadline, now)


def _lease_until(now: datetime, deadline: float) -> datetime:
    return now + timedelta(seconds=deadline + current_app.config["LEASE_GRACE_SECONDS"])


def _claimed_job(job_id: int, row: Any, deadline: float, started_at: datetime) -> ClaimedJob:
    """The claimed job, from a row with its task's url, parameters, etag and last_modified."""
    return ClaimedJob(
        job_id=job_id,
        task_id=row.task_id,
        url=row.url,
        parameters=dict(row.parameters or {}),
        etag=row.etag,
        last_modified=row.last_modified,
        deadline=deadline,
        started_at=started_at,
        started_monotonic=time.monotonic(),
    )


def _finish_succeeded(
    claimed: ClaimedJob, result: FetchResult, records: list[Record]
) -> str | None:
    """Store the records and mark the job succeeded, in one transaction with the task's update."""
    duration = time.monotonic() - claimed.started_monotonic
    modified = not result.not_modified
    with job_rows.transaction() as connection:
        # Tasks are always locked before their jobs.
        task = job_rows.lock_task(connection, claimed.task_id)
        if task is None:
            _discard(connection, claimed)
            return None
        previous: dict[str, str] = {}
        if task.last_data_job_id is not None and modified:
            previous = job_rows.previous_hashes(connection, task.last_data_job_id)
        changes = diff_records(previous, records)
        finished = job_rows.finish(
            connection,
            claimed.job_id,
            claimed.task_id,
            claimed.started_at,
            status=JobStatus.SUCCEEDED.value,
            finished_at=utcnow(),
            duration=duration,
            http_status=result.status_code,
            not_modified=result.not_modified,
            records_count=len(records),
            records_added=changes.added,
            records_changed=changes.changed,
            records_removed=changes.removed,
        )
        if not finished:
            _discard(connection, claimed)
            return None
        job_id, task_id = claimed.job_id, claimed.task_id
        job_rows.insert_records(
            connection,
            [
                (
                    job_id,
                    task_id,
                    None if record.key is None else record.key[:MAX_RECORD_KEY_LENGTH],
                    record.document,
                    record.content_hash,
                )
                for record in records
            ],
        )
        job_rows.record_run(
            claimed.task_id,
            {
                "last_job_id": claimed.job_id,
                # A 304 keeps the previous job's records as the task's current data.
                "last_data_job_id": claimed.job_id if modified else task.last_data_job_id,
                "etag": result.etag if modified else task.etag,
                "last_modified": result.last_modified if modified else task.last_modified,
                "last_execute_time": claimed.started_at,
                "last_execution_status": JobStatus.SUCCEEDED.value,
                "last_execution_error": None,
                "last_execution_time": duration,
                "attempt": 0,
                # A manual run that revives an exhausted task puts it back on its grid.
                "next_run_at": task.next_run_at or _next_grid_slot(task, utcnow()),
            },
            connection,
        )
    record_job_finished(JobStatus.SUCCEEDED.value, duration)
    logger.info(
        "job succeeded with %s records (%s added, %s changed, %s removed)%s",
        len(records),
        changes.added,
        changes.changed,
        changes.removed,
        "" if modified else " (not modified)",
        extra=_ids(claimed),
    )
    return JobStatus.SUCCEEDED.value


def _finish_failed(
    claimed: ClaimedJob, status: str, error: str, http_status: int | None
) -> str | None:
    """Mark the job failed (or timed out) and count the failure on its task."""
    duration = time.monotonic() - claimed.started_monotonic
    error = error[:MAX_ERROR_LENGTH]
    with job_rows.transaction() as connection:
        task = job_rows.lock_task(connection, claimed.task_id)
        if task is None:
            _discard(connection, claimed)
            return None
        finished = job_rows.finish(
            connection,
            claimed.job_id,
            claimed.task_id,
            claimed.started_at,
            status=status,
            finished_at=utcnow(),
            duration=duration,
            http_status=http_status,
            error=error,
        )
        if not finished:
            _discard(connection, claimed)
            return None
        job_rows.record_run(
            task.id,
            failure_values(task, claimed.job_id, status, error, duration, claimed.started_at),
            connection,
        )
    record_job_finished(status, duration)
    logger.info("job %s: %s", status, error, extra=_ids(claimed))
    return status


def failure_values(
    task: LockedTask,
    job_id: int,
    status: str,
    error: str,
    duration: float | None,
    started_at: datetime | None,
) -> dict[str, Any]:
    """The task's last-run fields after a failure: attempt + 1, then a retry after a backoff.

    At ``attempt >= max_attempt`` the task is exhausted: no run is planned (``next_run_at``
    cleared) until its attempt is reset.
    """
    now = utcnow()
    attempt = task.attempt + 1
    next_run_at: datetime | None = None
    if attempt < task.max_attempt:
        retry_at = now + timedelta(seconds=retry_delay(attempt, task.task_interval))
        next_run_at = max(retry_at, task.start_time)  # never before the window opens
        if task.end_time is not None and next_run_at >= task.end_time:
            next_run_at = None
    else:
        logger.warning(
            "task exhausted after %s failed attempts",
            attempt,
            extra={"task_id": task.id, "job_id": job_id},
        )
    return {
        "last_job_id": job_id,
        "last_data_job_id": task.last_data_job_id,
        "etag": task.etag,
        "last_modified": task.last_modified,
        "last_execute_time": started_at,
        "last_execution_status": status,
        "last_execution_error": error,
        "last_execution_time": duration,
        "attempt": attempt,
        "next_run_at": next_run_at,
    }


def _next_grid_slot(task: LockedTask, now: datetime) -> datetime | None:
    if not task.enabled or (task.end_time is not None and now >= task.end_time):
        return None
    slot = next_slot_after(task.start_time, task.task_interval, now)
    if task.end_time is not None and slot >= task.end_time:
        return None
    return slot


def _discard(connection: Connection, claimed: ClaimedJob) -> None:
    """The job was lost, cancelled or deleted while it ran: its result goes nowhere."""
    connection.rollback()
    logger.info("job result discarded: lost, cancelled or deleted meanwhile", extra=_ids(claimed))


def _ids(claimed: ClaimedJob) -> dict[str, int]:
    return {"job_id": claimed.job_id, "task_id": claimed.task_id}
