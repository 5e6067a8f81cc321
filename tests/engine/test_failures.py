"""Failing fetches through real beat and worker processes: retries, exhaustion, deadlines."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from flask.testing import FlaskClient

from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import jobs_of, task_row
from website.models import FINAL_JOB_STATUSES, JobStatus, Task, TaskState

pytestmark = pytest.mark.slow


@pytest.fixture
def never_answer() -> Iterator[threading.Event]:
    """Set it to let blocked handlers go (the test's end always does)."""
    release = threading.Event()
    yield release
    release.set()


def test_a_failing_url_runs_max_attempt_times_then_waits_for_a_reset(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    client: FlaskClient,
    auth_headers: dict[str, str],
) -> None:
    http_server.json("/feed", {"error": "down"}, status=500)
    celery_processes.worker()
    celery_processes.beat()
    task = make_task(url=http_server.url("/feed"), task_interval=3600, max_attempt=3)

    wait_for(lambda: task_row(task.id).attempt >= 3, timeout=60, message=celery_processes.logs())
    wait_for(lambda: len(http_server.requests_to("/feed")) >= 3, timeout=10)
    exhausted_at = datetime.now(UTC)
    wait_for(lambda: (datetime.now(UTC) - exhausted_at).total_seconds() > 4, timeout=10)

    jobs = jobs_of(task.id)
    assert [job.status for job in jobs] == [JobStatus.FAILED] * 3
    assert [job.attempt for job in jobs] == [0, 1, 2]
    assert task_row(task.id).state == TaskState.EXHAUSTED
    assert len(http_server.requests_to("/feed")) == 3

    http_server.json("/feed", [{"id": 1}])
    response = client.post(f"/tasks/{task.id}/reset-attempt", headers=auth_headers)
    assert response.status_code == 200

    wait_for(lambda: len(jobs_of(task.id)) == 4 and jobs_of(task.id)[-1].is_final, timeout=60)
    assert jobs_of(task.id)[-1].status == JobStatus.SUCCEEDED
    revived = task_row(task.id)
    assert (revived.attempt, revived.state) == (0, TaskState.ACTIVE)


def test_a_server_that_never_answers_times_the_job_out_within_the_deadline_plus_two_seconds(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    never_answer: threading.Event,
) -> None:
    def hang(_request: Request) -> Reply:
        never_answer.wait(timeout=120)
        return Reply(200, b"[]")

    http_server.route("/hang", hang)
    celery_processes.worker()
    celery_processes.beat()
    task = make_task(url=http_server.url("/hang"), task_interval=3600, max_execution_time=2)

    wait_for(
        lambda: any(job.is_final for job in jobs_of(task.id)),
        timeout=60,
        message=celery_processes.logs(),
    )

    job = jobs_of(task.id)[0]
    assert job.status == JobStatus.TIMED_OUT
    assert job.started_at is not None
    assert job.finished_at is not None
    assert (job.finished_at - job.started_at).total_seconds() <= 2 + 2
    assert task_row(task.id).last_execution_status == JobStatus.TIMED_OUT
    assert all(job.status in FINAL_JOB_STATUSES for job in jobs_of(task.id))
