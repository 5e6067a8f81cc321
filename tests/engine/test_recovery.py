"""Killed workers, warm shutdowns, a flushed and a stopped Redis: nothing stays stuck."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis

from cli.embedded_redis import EmbeddedRedis
from tests.support.broker import queued_messages
from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import jobs_of, task_row
from website import create_app
from website.extensions import db
from website.models import FINAL_JOB_STATUSES, Job, JobStatus, Task
from website.services.scheduler import tick

pytestmark = pytest.mark.slow

RECORDS = [{"id": 1}, {"id": 2}]
CHALLENGE = Path(sys.executable).with_name("challenge")  # the console script of this venv


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[EmbeddedRedis]:
    """A private redis-server this test may flush, stop and start again."""
    server = EmbeddedRedis(free_port(), tmp_path / "own-redis").start()
    yield server
    server.stop()


def unfinished_jobs(task_ids: list[int]) -> list[Job]:
    return [job for t in task_ids for job in jobs_of(t) if job.status not in FINAL_JOB_STATUSES]


def test_a_job_whose_worker_was_killed_is_lost_after_its_lease_and_its_task_runs_again(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    release: threading.Event,
) -> None:
    calls = []

    def slow_the_first_time(_request: Request) -> Reply:
        calls.append(time.monotonic())
        if len(calls) == 1:
            release.wait(timeout=120)
        return Reply(200, b'[{"id": 1}]')

    http_server.route("/feed", slow_the_first_time)
    doomed = celery_processes.worker(concurrency=1)
    celery_processes.beat()
    task = make_task(url=http_server.url("/feed"), task_interval=3600, max_execution_time=3)
    wait_for(lambda: len(calls) == 1, timeout=60, message=celery_processes.logs())

    doomed.kill()
    celery_processes.worker(concurrency=1)

    wait_for(
        lambda: any(job.status == JobStatus.SUCCEEDED for job in jobs_of(task.id)),
        timeout=60,
        message=celery_processes.logs(),
    )
    first, second = jobs_of(task.id)
    assert first.status == JobStatus.LOST
    assert "lease" in (first.error or "")
    assert second.status == JobStatus.SUCCEEDED
    assert task_row(task.id).attempt == 0
    assert unfinished_jobs([task.id]) == []


def test_a_worker_sent_sigterm_finishes_its_running_job_before_it_exits(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.route("/feed", lambda _request: Reply(200, b'[{"id": 1}]', delay=3))
    worker = celery_processes.worker(concurrency=1)
    task = make_task(url=http_server.url("/feed"), task_interval=3600)
    tick()  # dispatch from here: this test has no beat
    wait_for(lambda: len(http_server.requests_to("/feed")) == 1, timeout=60)

    exit_code = worker.terminate()
    exited_at = datetime.now(UTC)

    assert exit_code == 0, worker.log_text()
    [job] = jobs_of(task.id)
    assert job.status == JobStatus.SUCCEEDED
    assert job.finished_at is not None
    assert job.finished_at <= exited_at


def test_jobs_whose_messages_were_flushed_from_redis_are_republished_and_finish(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    own_redis: EmbeddedRedis,
) -> None:
    http_server.json("/feed", RECORDS)
    tasks = [make_task(name=f"t{n}", url=http_server.url("/feed")) for n in range(3)]
    feed = subprocess.run(
        [str(CHALLENGE), "feed"],
        env={**os.environ, "REDIS_URL": own_redis.url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert feed.returncode == 0, feed.stderr
    assert "Dispatched 3 jobs" in feed.stdout
    broker = redis.Redis.from_url(own_redis.url)
    assert len(queued_messages(broker)) == 3
    broker.flushdb()  # the messages are gone; the jobs are queued in the database

    celery_processes.worker(REDIS_URL=own_redis.url)
    celery_processes.beat(REDIS_URL=own_redis.url)

    task_ids = [task.id for task in tasks]
    wait_for(
        lambda: all(job.status == JobStatus.SUCCEEDED for t in task_ids for job in jobs_of(t)),
        timeout=60,
        message=celery_processes.logs(),
    )
    assert [len(jobs_of(t)) for t in task_ids] == [1, 1, 1]  # the same jobs, run once each
    assert len(http_server.requests_to("/feed")) == 3
    broker.close()


def test_ticks_during_a_redis_outage_leave_jobs_queued_until_redis_returns(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    own_redis: EmbeddedRedis,
) -> None:
    http_server.json("/feed", RECORDS)
    worker = celery_processes.worker(REDIS_URL=own_redis.url)
    beat = celery_processes.beat(REDIS_URL=own_redis.url)
    tasks = [
        make_task(name=f"t{n}", url=http_server.url("/feed"), task_interval=1) for n in range(2)
    ]
    task_ids = [task.id for task in tasks]
    wait_for(
        lambda: all(
            sum(job.status == JobStatus.SUCCEEDED for job in jobs_of(t)) >= 2 for t in task_ids
        ),
        timeout=60,
        message=celery_processes.logs(),
    )

    own_redis.stop()
    outage_ends = time.monotonic() + 20
    # Ticks from the command line's code path (beat cannot reach the worker without Redis).
    outage_app = create_app({"TESTING": True, "REDIS_URL": own_redis.url})
    queued_during_outage: set[int] = set()
    with outage_app.app_context():
        while time.monotonic() < outage_ends:
            report = tick()
            queued_during_outage.update(message.job_id for message in report.dispatched)
            assert report.published == set()
            db.session.remove()
            time.sleep(1)
        db.engine.dispose()
    assert queued_during_outage, "no tick during the outage found a due task"
    stranded = unfinished_jobs(task_ids)
    assert {job.id for job in stranded} >= queued_during_outage
    assert {
        (job.status, job.published_at) for job in stranded if job.id in queued_during_outage
    } == {(JobStatus.QUEUED, None)}

    own_redis.start()  # empty: whatever was queued in Redis is gone
    restarted_at = datetime.now(UTC)
    stranded_ids = {job.id for job in stranded}
    wait_for(
        lambda: all(
            job.status == JobStatus.SUCCEEDED
            for t in task_ids
            for job in jobs_of(t)
            if job.id in stranded_ids
        ),
        timeout=90,
        message=celery_processes.logs(),
    )
    # Beat and the worker reconnected by themselves: new slots run again.
    wait_for(
        lambda: all(
            any(
                job.status == JobStatus.SUCCEEDED and job.queued_at > restarted_at
                for job in jobs_of(t)
            )
            for t in task_ids
        ),
        timeout=90,
        message=celery_processes.logs(),
    )
    assert worker.running
    assert beat.running
