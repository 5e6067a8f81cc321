"""Stopping a prefork worker: a SIGTERM to its whole process group is a warm shutdown.

systemd (``KillMode=control-group``, its default) and ``kill -- -PGID`` signal every process of
the worker at once, the pool's child processes included; ``CeleryProcess.terminate`` does the same.
"""

from __future__ import annotations

import json
import signal
import threading
from collections.abc import Callable

import pytest

from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import STOP_TIMEOUT_SECONDS, CeleryProcesses, wait_for
from tests.support.rows import data_of, jobs_of
from website.models import JobStatus, Task
from website.services.scheduler import tick

pytestmark = pytest.mark.slow

RECORDS = [{"id": number} for number in range(5)]
SLOW_FEED_SECONDS = 3  # long enough for the signal to land while the job runs


def held_until(release: threading.Event) -> Callable[[Request], Reply]:
    """A handler that holds each request until ``release`` is set."""

    def handler(_request: Request) -> Reply:
        release.wait(timeout=120)
        return Reply(200, b"[]")

    return handler


def test_a_prefork_worker_whose_process_group_gets_sigterm_finishes_its_running_job(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    body = json.dumps(RECORDS).encode()
    http_server.route("/feed", lambda _request: Reply(200, body, delay=SLOW_FEED_SECONDS))
    worker = celery_processes.worker(concurrency=1, pool="prefork")
    task = make_task(url=http_server.url("/feed"), task_interval=3600)
    tick()  # dispatch from here: this test has no beat
    wait_for(lambda: len(http_server.requests_to("/feed")) == 1, timeout=60)

    exit_code = worker.terminate()  # SIGTERM to the main process and its children at once

    assert exit_code == 0, worker.log_text()
    [job] = jobs_of(task.id)
    assert job.status == JobStatus.SUCCEEDED, worker.log_text()
    assert len(data_of(job.id)) == len(RECORDS)
    assert "WorkerLostError" not in worker.log_text()


def test_sigquit_to_the_process_group_stops_a_prefork_worker_without_waiting_for_its_job(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    release: threading.Event,
) -> None:
    worker = celery_processes.worker(concurrency=1, pool="prefork")
    http_server.route("/feed", held_until(release))
    task = make_task(url=http_server.url("/feed"), task_interval=3600, max_execution_time=120)
    tick()
    wait_for(lambda: len(http_server.requests_to("/feed")) == 1, timeout=60)

    worker.signal(signal.SIGQUIT)  # Celery's cold shutdown, to every process of the group
    worker.process.wait(timeout=STOP_TIMEOUT_SECONDS)

    assert not release.is_set()  # the worker did not wait for the feed to answer
    [job] = jobs_of(task.id)
    assert job.status == JobStatus.RUNNING  # left to its lease, like any killed job
