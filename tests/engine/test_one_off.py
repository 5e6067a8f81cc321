"""One-off tasks through real beat and worker processes: one run, retries, a final state."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.http_server import LocalHTTPServer
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import jobs_of, task_row
from website.models import JobStatus, Task, TaskState

pytestmark = pytest.mark.slow

RECORDS = [{"id": number} for number in range(5)]


def ticks_pass(seconds: float) -> None:
    """Let the beat tick for ``seconds`` more (many ticks: a wrong plan would show)."""
    until = datetime.now(UTC) + timedelta(seconds=seconds)
    wait_for(lambda: datetime.now(UTC) > until, timeout=seconds + 10)


def test_a_one_off_task_runs_exactly_once_at_its_start_and_ends_completed(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.json("/feed", RECORDS)
    celery_processes.worker()
    celery_processes.beat()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=2)
    task = make_task(url=http_server.url("/feed"), start_time=start, task_interval=None)
    assert task_row(task.id).state == TaskState.PENDING

    wait_for(
        lambda: task_row(task.id).state == TaskState.COMPLETED,
        timeout=60,
        message=celery_processes.logs(),
    )
    ticks_pass(3)

    [job] = jobs_of(task.id)
    assert (job.status, job.scheduled_for, job.records_count) == (
        JobStatus.SUCCEEDED,
        start,
        len(RECORDS),
    )
    assert job.started_at is not None
    assert job.started_at >= start
    stored = task_row(task.id)
    assert (stored.state, stored.next_run_at, stored.last_job_id) == (
        TaskState.COMPLETED,
        None,
        job.id,
    )
    assert len(http_server.requests_to("/feed")) == 1


def test_a_failing_one_off_task_retries_with_its_backoff_max_attempt_times_then_is_exhausted(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.json("/feed", {"error": "down"}, status=500)
    celery_processes.worker()
    celery_processes.beat()
    backoff = 1.0
    task = make_task(
        url=http_server.url("/feed"), task_interval=None, max_attempt=3, retry_backoff=backoff
    )

    wait_for(
        lambda: task_row(task.id).state == TaskState.EXHAUSTED,
        timeout=60,
        message=celery_processes.logs(),
    )
    ticks_pass(5)  # longer than the last backoff would have been: no fourth run comes

    jobs = jobs_of(task.id)
    assert [job.status for job in jobs] == [JobStatus.FAILED] * 3
    assert [job.attempt for job in jobs] == [0, 1, 2]
    assert len(http_server.requests_to("/feed")) == 3
    # Each retry was planned after its backoff (1 s, then 2 s), never sooner.
    for number, (failed, retry) in enumerate(itertools.pairwise(jobs)):
        assert failed.started_at is not None
        assert retry.started_at is not None
        assert retry.scheduled_for >= failed.started_at + timedelta(seconds=backoff * 2**number)
        assert retry.started_at >= retry.scheduled_for
    stored = task_row(task.id)
    assert (stored.state, stored.attempt, stored.next_run_at) == (TaskState.EXHAUSTED, 3, None)
