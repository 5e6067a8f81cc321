"""Running one job: claim it, fetch, store the records, record success or failure on the task."""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy.exc import SQLAlchemyError

from website.database import utcnow
from website.metrics import record_job_finished
from website.models import JobStatus
from website.services import job_store, notifications
from website.services.fetch import (
    FetchError,
    FetchRequest,
    FetchResult,
    Record,
    diff_records,
    extract_records,
    fetch,
)
from website.services.job_store import JobOutcome, JobStore
from website.services.schedule import failed_run, succeeded_run

__all__ = ["ClaimedJob", "claim_job", "record_timeout", "run_job", "worker_name"]

logger = logging.getLogger(__name__)

MAX_ERROR_LENGTH = 500  # characters of an error kept on the job and the task
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
    last_data_job_id: int | None  # the job whose records are the task's data, at the claim
    deadline: float
    started_at: datetime
    started_monotonic: float


def worker_name() -> str:
    """``host:pid`` of the process running the job (a prefork child's own pid, not its parent's)."""
    return f"{HOST_NAME}:{os.getpid()}"


def run_job(
    job_id: int, deadline: float, *, interrupts: tuple[type[BaseException], ...] = ()
) -> str | None:
    """Run a queued job to a final state; None when it was not ours to run (a duplicate).

    ``deadline`` comes with the job's message: the seconds the fetch may take. ``interrupts``
    are exceptions raised into the run from outside (a worker's time limit): they propagate,
    the transaction under way rolled back, for the caller to end the run with
    ``record_timeout``.
    """
    claimed = claim_job(job_id, deadline)
    if claimed is None:
        return None
    request = FetchRequest(
        url=claimed.url,
        parameters=claimed.parameters,
        timeout=claimed.deadline,
        etag=claimed.etag,
        last_modified=claimed.last_modified,
    )
    try:
        result = fetch(request)
        records = [] if result.not_modified else extract_records(result.payload, claimed.parameters)
    except FetchError as error:
        return _finish_failed(claimed, error.kind, error.message, error.http_status)
    except interrupts:
        raise
    except Exception:
        logger.exception("fetch crashed", extra=_ids(claimed))
        return _finish_failed(claimed, JobStatus.FAILED, "Internal error while fetching", None)
    try:
        return _finish_succeeded(claimed, result, records)
    except SQLAlchemyError as error:  # its transaction was rolled back
        logger.exception("storing the result failed", extra=_ids(claimed))
        message = f"Could not store the records: {type(error).__name__}"
        return _finish_failed(claimed, JobStatus.FAILED, message, result.status_code)


def claim_job(job_id: int, deadline: float) -> ClaimedJob | None:
    """Move the job from queued to running with a lease; None if it is not queued any more.

    The claim commits before the fetch starts: no transaction (and, on SQLite, no write lock)
    is held while waiting for the network.
    """
    now = utcnow()
    lease_until = now + timedelta(seconds=deadline + current_app.config["LEASE_GRACE_SECONDS"])
    with job_store.transaction() as store:
        row = store.claim(job_id, now, lease_until, worker_name())
    if row is None:
        logger.info("job not claimed: taken, finished or deleted", extra={"job_id": job_id})
        return None
    return ClaimedJob(
        job_id=job_id,
        task_id=row.task_id,
        url=row.url,
        parameters=dict(row.parameters or {}),
        etag=row.etag,
        last_modified=row.last_modified,
        last_data_job_id=row.last_data_job_id,
        deadline=deadline,
        started_at=now,
        started_monotonic=time.monotonic(),
    )


def record_timeout(job_id: int, deadline: float) -> str | None:
    """End this process's run of the job as timed out: the worker's time limit interrupted it.

    Only while the job still runs as this process claimed it (a prefork child runs one job at a
    time); it counts as a failure of its task. None when there was no such run: a job cancelled
    (the interruption was its cancellation), lost or deleted meanwhile stays as it is.
    """
    error = f"No result within {deadline:g} s"
    with job_store.transaction() as store:
        run = store.running_claim(job_id, worker_name())
        if run is None:
            logger.info(
                "run interrupted; the job was cancelled, lost or deleted meanwhile",
                extra={"job_id": job_id},
            )
            return None
        now = utcnow()
        duration = (now - run.started_at).total_seconds()
        outcome = JobOutcome(JobStatus.TIMED_OUT, now, duration, error=error)
        if not _record_failure(store, job_id, run.task_id, run.started_at, outcome):
            return None
    record_job_finished(JobStatus.TIMED_OUT, duration)
    logger.warning("job timed out: %s", error, extra={"job_id": job_id, "task_id": run.task_id})
    return JobStatus.TIMED_OUT.value


def _finish_succeeded(
    claimed: ClaimedJob, result: FetchResult, records: list[Record]
) -> str | None:
    """Store the records and mark the job succeeded, in one transaction with the task's update.

    The diff against the previous records is computed before that transaction (on SQLite it
    holds the write lock), and again inside only if another run stored records meanwhile.
    """
    duration = time.monotonic() - claimed.started_monotonic
    compared_with = None if result.not_modified else claimed.last_data_job_id
    previous = _previous_hashes(compared_with, job_store.previous_hashes)
    changes = diff_records(previous, records)
    with job_store.transaction() as store:
        task = store.lock_task(claimed.task_id)  # tasks are always locked before their jobs
        if task is not None and not result.not_modified and task.last_data_job_id != compared_with:
            previous = _previous_hashes(task.last_data_job_id, store.previous_hashes)
            changes = diff_records(previous, records)
        outcome = JobOutcome(
            JobStatus.SUCCEEDED,
            utcnow(),
            duration,
            http_status=result.status_code,
            not_modified=result.not_modified,
            records_count=len(records),
            records_added=changes.added,
            records_changed=changes.changed,
            records_removed=changes.removed,
        )
        if task is None or not store.finish(
            claimed.job_id, claimed.task_id, claimed.started_at, outcome
        ):
            _discard(store, claimed)
            return None
        store.insert_records(claimed.job_id, claimed.task_id, records)
        run = succeeded_run(
            task,
            job_id=claimed.job_id,
            started_at=claimed.started_at,
            duration=duration,
            not_modified=result.not_modified,
            etag=result.etag,
            last_modified=result.last_modified,
            now=outcome.finished_at,
        )
        store.record_run(claimed.task_id, run)
        notifications.job_succeeded(
            store.connection,
            task,
            claimed.job_id,
            previous=previous,
            records=records,
            changes=changes,
            not_modified=result.not_modified,
            now=outcome.finished_at,
        )
    record_job_finished(JobStatus.SUCCEEDED, duration)
    logger.info(
        "job succeeded with %s records (%s added, %s changed, %s removed)%s",
        len(records),
        changes.added,
        changes.changed,
        changes.removed,
        " (not modified)" if result.not_modified else "",
        extra=_ids(claimed),
    )
    return JobStatus.SUCCEEDED.value


def _previous_hashes(
    previous_job_id: int | None, read_hashes: Callable[[int], dict[str, str]]
) -> dict[str, str]:
    """The content hashes by record key of ``previous_job_id``'s records (none: no records)."""
    return {} if previous_job_id is None else read_hashes(previous_job_id)


def _finish_failed(
    claimed: ClaimedJob, status: str, error: str, http_status: int | None
) -> str | None:
    """Mark the job failed (or timed out) and count the failure on its task."""
    duration = time.monotonic() - claimed.started_monotonic
    outcome = JobOutcome(
        status, utcnow(), duration, http_status=http_status, error=error[:MAX_ERROR_LENGTH]
    )
    with job_store.transaction() as store:
        if not _record_failure(store, claimed.job_id, claimed.task_id, claimed.started_at, outcome):
            _discard(store, claimed)
            return None
    record_job_finished(status, duration)
    logger.info("job %s: %s", status, outcome.error, extra=_ids(claimed))
    return status


def _record_failure(
    store: JobStore, job_id: int, task_id: int, started_at: datetime, outcome: JobOutcome
) -> bool:
    """Finish the job with ``outcome`` and count the failure on its task; False if not ours."""
    task = store.lock_task(task_id)
    if task is None or not store.finish(job_id, task_id, started_at, outcome):
        return False
    run = failed_run(
        task,
        job_id=job_id,
        status=outcome.status,
        error=outcome.error or "",
        duration=outcome.duration,
        started_at=started_at,
        now=outcome.finished_at,
    )
    if run.attempt >= task.max_attempt:
        logger.warning(
            "task exhausted after %s failed attempts",
            run.attempt,
            extra={"task_id": task_id, "job_id": job_id},
        )
    store.record_run(task_id, run)
    notifications.job_failed(
        store.connection, task, run, job_id, outcome.status, outcome.finished_at
    )
    return True


def _discard(store: JobStore, claimed: ClaimedJob) -> None:
    """The job was lost, cancelled or deleted while it ran: its result goes nowhere."""
    store.connection.rollback()
    logger.info("job result discarded: lost, cancelled or deleted meanwhile", extra=_ids(claimed))


def _ids(claimed: ClaimedJob) -> dict[str, int]:
    return {"job_id": claimed.job_id, "task_id": claimed.task_id}
