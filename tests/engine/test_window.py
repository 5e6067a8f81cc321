"""The window, pausing and deleting, through real beat and worker processes."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import jobs_of, set_task, task_exists
from website.models import JobStatus, Task, User
from website.services.tasks import delete_task

pytestmark = pytest.mark.slow

RECORDS = b'[{"id": 1}]'


def test_tasks_run_only_inside_their_window_and_never_while_paused(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.route("/feed", lambda _request: Reply(200, RECORDS))
    url = http_server.url("/feed")
    now = datetime.now(UTC)
    expired = make_task(
        name="expired",
        url=url,
        start_time=now - timedelta(hours=2),
        end_time=now - timedelta(hours=1),
        task_interval=1,
    )
    paused = make_task(name="paused", url=url, task_interval=1)
    set_task(paused.id, enabled=False)
    celery_processes.worker(concurrency=4)
    celery_processes.beat()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=3)
    pending = make_task(name="pending", url=url, start_time=start, task_interval=3600)
    # Two seconds apart: a first job slowed by a busy machine still finishes before the next
    # slot, which would otherwise be skipped (one unfinished job per task) rather than run.
    windowed = make_task(
        name="windowed",
        url=url,
        start_time=start,
        end_time=start + timedelta(seconds=6),
        task_interval=2,
    )

    wait_for(lambda: datetime.now(UTC) > start + timedelta(seconds=8), timeout=30)
    wait_for(
        lambda: all(job.is_final for t in (pending.id, windowed.id) for job in jobs_of(t)),
        timeout=30,
        message=celery_processes.logs(),
    )

    assert jobs_of(expired.id) == []
    assert jobs_of(paused.id) == []
    [first] = jobs_of(pending.id)
    assert first.scheduled_for == start
    assert first.started_at is not None
    assert first.started_at >= start
    assert [job.scheduled_for for job in jobs_of(windowed.id)] == [
        start + timedelta(seconds=k) for k in (0, 2, 4)
    ]  # nothing at or after end_time
    assert {job.status for job in jobs_of(windowed.id)} == {JobStatus.SUCCEEDED}


def test_a_task_deleted_while_its_job_runs_goes_away_without_an_error(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    user: User,
    release: threading.Event,
) -> None:
    def wait_for_release(_request: Request) -> Reply:
        release.wait(timeout=120)
        return Reply(200, RECORDS)

    http_server.route("/slow", wait_for_release)
    http_server.route("/fast", lambda _request: Reply(200, RECORDS))
    worker = celery_processes.worker(concurrency=2)
    celery_processes.beat()
    doomed = make_task(name="doomed", url=http_server.url("/slow"), task_interval=3600)
    wait_for(lambda: len(http_server.requests_to("/slow")) == 1, timeout=60)

    delete_task(doomed.id, user.id)
    assert not task_exists(doomed.id)
    assert jobs_of(doomed.id) == []
    release.set()

    wait_for(lambda: "discarded" in worker.log_text(), timeout=60, message=worker.log_text())
    survivor = make_task(name="survivor", url=http_server.url("/fast"), task_interval=3600)
    wait_for(
        lambda: any(job.status == JobStatus.SUCCEEDED for job in jobs_of(survivor.id)),
        timeout=60,
        message=celery_processes.logs(),
    )
    assert "Traceback" not in worker.log_text()
    assert " ERROR " not in worker.log_text()
