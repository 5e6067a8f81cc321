"""/metrics of a real gunicorn, scraped while a real beat and worker run jobs: the counters move."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import free_port
from tests.ship.processes import gunicorn_command, running, wait_for_http, wait_until
from tests.ship.scrape import Scrape
from tests.support.http_server import LocalHTTPServer
from tests.support.processes import CeleryProcesses
from website.extensions import db
from website.models import Job, JobStatus, Task

pytestmark = pytest.mark.slow

STARTUP_TIMEOUT_SECONDS = 90.0
JOBS_TIMEOUT_SECONDS = 90.0
JOBS_TO_SEE = 3
SUCCEEDED = {"status": "succeeded"}
FINISHED = "challenge_jobs_finished_total"
DURATION = "challenge_fetch_duration_seconds"
LAG = "challenge_dispatch_lag_seconds"
METRICS_ROUTE = {"method": "GET", "route": "/metrics", "status": "200"}


def count_jobs(status: JobStatus) -> int:
    count = db.session.scalar(select(func.count()).where(Job.status == status.value))
    db.session.commit()  # end the read: SQLite holds its write lock for the transaction
    return int(count or 0)


def test_metrics_count_the_jobs_a_worker_runs_in_every_web_process(
    app: object,
    http_server: LocalHTTPServer,
    make_task: Callable[..., Task],
    tmp_path: Path,
) -> None:
    http_server.json("/feed", [{"id": 1, "name": "one"}, {"id": 2, "name": "two"}])
    make_task(url=http_server.url("/feed"), task_interval=1, max_execution_time=5)
    port = free_port()
    scrapes: list[Scrape] = []

    def scrape() -> Scrape:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
        assert response.status_code == 200
        scrapes.append(Scrape(response.text))
        return scrapes[-1]

    with (
        running(gunicorn_command(port), tmp_path / "web") as web,
        CeleryProcesses(tmp_path, SCHEDULER_TICK_SECONDS="0.5") as celery,
    ):
        wait_for_http(f"http://127.0.0.1:{port}/healthz", web, STARTUP_TIMEOUT_SECONDS)
        before = scrape()
        assert before.value(FINISHED, **SUCCEEDED) == 0
        celery.worker()
        beat = celery.beat()

        wait_until(
            lambda: scrape().value(FINISHED, **SUCCEEDED) >= JOBS_TO_SEE,
            JOBS_TIMEOUT_SECONDS,
            f"/metrics to count {JOBS_TO_SEE} succeeded jobs\n{celery.logs()}",
        )
        during = scrapes[-1]
        beat.terminate()
        wait_until(
            lambda: count_jobs(JobStatus.QUEUED) + count_jobs(JobStatus.RUNNING) == 0,
            JOBS_TIMEOUT_SECONDS,
            "the last jobs to finish",
        )
        celery.stop_all()  # a worker flushes its last increments as it exits
        settled = scrape()
        wait_until(
            lambda: (
                scrape().value("challenge_http_requests_total", **METRICS_ROUTE) >= len(scrapes) - 1
            ),
            30,
            "every gunicorn worker to report the scrapes it answered",
        )

    # Every scrape, whichever gunicorn process answered it, saw the counters only grow.
    succeeded = [item.value(FINISHED, **SUCCEEDED) for item in scrapes]
    assert succeeded == sorted(succeeded)
    # The jobs ran, were timed and were dispatched: each shows in its own metric.
    assert during.value(f"{DURATION}_count") >= JOBS_TO_SEE
    assert during.value(f"{LAG}_count") >= JOBS_TO_SEE
    assert during.value("challenge_jobs", status="succeeded") >= JOBS_TO_SEE
    # At rest, the worker's event counter and the database agree exactly.
    assert settled.value(FINISHED, **SUCCEEDED) == count_jobs(JobStatus.SUCCEEDED)
    assert settled.value("challenge_jobs", **SUCCEEDED) == count_jobs(JobStatus.SUCCEEDED)
