"""Priorities through a real worker: urgent jobs overtake older ones, and nothing starves.

One worker with one slot, so that the order in which jobs start is the order the queue served
them. Jobs are manual runs (tasks whose schedule starts tomorrow), ticks are called by the test:
the test decides what waits in the queue and when aging may act.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import jobs_of
from website.errors import Conflict
from website.models import FINAL_JOB_STATUSES, Job, JobStatus, Task
from website.services.manual_runs import run_task_now
from website.services.scheduler import tick

pytestmark = pytest.mark.slow

FLOOD_FETCH_SECONDS = 0.3  # a flood job holds the worker's only slot this long
FLOOD_TASKS = 4  # priority-9 tasks kept queued: each has at most one unfinished job
MAX_WAIT_SECONDS = 2.0  # the bound, small so that the test is short


@pytest.fixture
def later_tasks(make_task: Callable[..., Task]) -> Callable[..., Task]:
    """Tasks whose schedule starts tomorrow: only the test's manual runs queue their jobs."""
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    return lambda **values: make_task(start_time=tomorrow, task_interval=3600, **values)


def started_order(jobs: list[Job]) -> list[int]:
    return [job.id for job in sorted(jobs, key=lambda job: job.started_at or datetime.max)]


def test_urgent_jobs_overtake_older_normal_ones(
    celery_processes: CeleryProcesses,
    later_tasks: Callable[..., Task],
    http_server: LocalHTTPServer,
    release: threading.Event,
) -> None:
    def blocked(_request: Request) -> Reply:
        release.wait(timeout=120)
        return Reply(200, b"[]", {"Content-Type": "application/json"})

    http_server.route("/blocked", blocked)
    http_server.json("/feed", [{"id": 1}])
    celery_processes.worker(concurrency=1)
    blocker = run_task_now(later_tasks(url=http_server.url("/blocked"), max_execution_time=120).id)
    wait_for(
        lambda: jobs_of(blocker.task_id)[0].status == JobStatus.RUNNING,
        timeout=120,
        message=celery_processes.logs(),
    )

    # The worker's only slot is taken: normal jobs queue first, urgent ones after them.
    feed = http_server.url("/feed")
    normal = [run_task_now(later_tasks(url=feed, priority=5).id) for _ in range(3)]
    urgent = [run_task_now(later_tasks(url=feed, priority=9).id) for _ in range(3)]
    release.set()
    task_ids = [job.task_id for job in normal + urgent]
    wait_for(
        lambda: all(jobs_of(t)[0].status in FINAL_JOB_STATUSES for t in task_ids),
        timeout=120,
        message=celery_processes.logs(),
    )

    normal = [jobs_of(job.task_id)[0] for job in normal]
    urgent = [jobs_of(job.task_id)[0] for job in urgent]
    assert {job.status for job in normal + urgent} == {JobStatus.SUCCEEDED}
    assert max(job.queued_at for job in normal) < min(job.queued_at for job in urgent)
    # Every urgent job started before every normal one, in the order it was queued.
    assert started_order(normal + urgent) == [job.id for job in urgent + normal]


def test_a_low_priority_job_starves_under_a_flood_only_until_the_bound(
    app: Flask,
    celery_processes: CeleryProcesses,
    later_tasks: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.route(
        "/slow",
        lambda _request: Reply(
            200, b'[{"id": 1}]', {"Content-Type": "application/json"}, delay=FLOOD_FETCH_SECONDS
        ),
    )
    url = http_server.url("/slow")
    celery_processes.worker(concurrency=1)
    flood = [later_tasks(name=f"urgent {n}", url=url, priority=9) for n in range(FLOOD_TASKS)]
    low_task = later_tasks(name="low", url=url, priority=0)
    promoted: set[int] = set()

    def keep_flooding() -> None:
        """One step of a sustained flood: every urgent task has a run queued again, then a tick."""
        for task in flood:
            with contextlib.suppress(Conflict):  # its run is still queued or running
                run_task_now(task.id)
        promoted.update(tick().promoted)

    def flood_until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, celery_processes.logs()
            keep_flooding()
            time.sleep(0.1)

    def urgent_jobs() -> list[Job]:
        return [job for task in flood for job in jobs_of(task.id)]

    # Strict priorities first (no bound): the low job waits while urgent jobs queued after it run.
    app.config["PRIORITY_MAX_WAIT_SECONDS"] = 0.0
    keep_flooding()
    low = run_task_now(low_task.id)

    def overtaken_by() -> list[Job]:
        return [job for job in urgent_jobs() if job.queued_at > low.queued_at and job.started_at]

    flood_until(lambda: len(overtaken_by()) >= 2 * FLOOD_TASKS)
    assert jobs_of(low_task.id)[0].status == JobStatus.QUEUED  # starving

    # With the bound, the next tick finds it overdue and it starts while the flood goes on.
    app.config["PRIORITY_MAX_WAIT_SECONDS"] = MAX_WAIT_SECONDS
    flood_until(lambda: jobs_of(low_task.id)[0].started_at is not None)

    started = jobs_of(low_task.id)[0]
    assert started.started_at is not None
    assert low.id in promoted
    # Urgent jobs were waiting in the queue (published before it started) and started after it:
    # without the promotion the worker would have taken every one of them first.
    passed_over = [
        job
        for job in urgent_jobs()
        if job.published_at is not None
        and job.published_at < started.started_at
        and (job.started_at is None or job.started_at > started.started_at)
    ]
    assert passed_over, celery_processes.logs()
