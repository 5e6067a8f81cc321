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


class Flood:
    """A sustained flood of priority-9 jobs on a one-slot worker, and one priority-0 job.

    Each step queues a run of every urgent task whose previous run has started (a task has at
    most one unfinished job), so urgent jobs always wait in the queue while the test goes on.
    """

    def __init__(
        self,
        later_tasks: Callable[..., Task],
        http_server: LocalHTTPServer,
        logs: Callable[[], str],
    ) -> None:
        http_server.route(
            "/slow",
            lambda _request: Reply(
                200, b'[{"id": 1}]', {"Content-Type": "application/json"}, delay=FLOOD_FETCH_SECONDS
            ),
        )
        url = http_server.url("/slow")
        self.urgent = [
            later_tasks(name=f"urgent {n}", url=url, priority=9) for n in range(FLOOD_TASKS)
        ]
        self.low = later_tasks(name="low", url=url, priority=0)
        self.logs = logs
        self.promoted: set[int] = set()

    def step(self, tick_too: bool) -> None:
        for task in self.urgent:
            with contextlib.suppress(Conflict):  # its run is still queued or running
                run_task_now(task.id)
        if tick_too:
            self.promoted.update(tick().promoted)

    def until(self, condition: Callable[[], bool], tick_too: bool, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, self.logs()
            self.step(tick_too)
            time.sleep(0.1)

    def urgent_jobs(self) -> list[Job]:
        return [job for task in self.urgent for job in jobs_of(task.id)]

    def low_job(self) -> Job:
        return jobs_of(self.low.id)[0]

    def assert_low_started_while_urgent_jobs_waited(self) -> None:
        """Urgent jobs were waiting in the queue (published before the low job started) and
        started after it: by priority alone the worker would have taken every one of them first."""
        started_at = self.low_job().started_at
        assert started_at is not None
        passed_over = [
            job
            for job in self.urgent_jobs()
            if job.published_at is not None
            and job.published_at < started_at
            and (job.started_at is None or job.started_at > started_at)
        ]
        assert passed_over, self.logs()


def test_a_low_priority_job_starves_under_a_flood_only_until_the_bound(
    app: Flask,
    celery_processes: CeleryProcesses,
    later_tasks: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    celery_processes.worker(concurrency=1)
    flood = Flood(later_tasks, http_server, celery_processes.logs)

    # Strict priorities first (no bound): the low job waits while urgent jobs queued after it run.
    app.config["PRIORITY_MAX_WAIT_SECONDS"] = 0.0
    flood.step(tick_too=True)
    low = run_task_now(flood.low.id)

    def overtaken_by() -> list[Job]:
        return [
            job for job in flood.urgent_jobs() if job.queued_at > low.queued_at and job.started_at
        ]

    flood.until(lambda: len(overtaken_by()) >= 2 * FLOOD_TASKS, tick_too=True)
    assert flood.low_job().status == JobStatus.QUEUED  # starving

    # With the bound, the next tick finds it overdue and it starts while the flood goes on.
    app.config["PRIORITY_MAX_WAIT_SECONDS"] = MAX_WAIT_SECONDS
    flood.until(lambda: flood.low_job().started_at is not None, tick_too=True)

    assert low.id in flood.promoted
    flood.assert_low_started_while_urgent_jobs_waited()


def test_beat_ticks_reach_a_saturated_worker_and_promote_a_starving_job(
    celery_processes: CeleryProcesses,
    later_tasks: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    # Ticks run on the flooded worker itself: their own queue goes before every job.
    worker = celery_processes.worker(concurrency=1, PRIORITY_MAX_WAIT_SECONDS=str(MAX_WAIT_SECONDS))
    celery_processes.beat()
    flood = Flood(later_tasks, http_server, celery_processes.logs)
    flood.step(tick_too=False)
    run_task_now(flood.low.id)

    flood.until(lambda: flood.low_job().started_at is not None, tick_too=False)

    assert "overdue jobs ahead of every priority" in worker.log_text()  # a tick promoted it
    flood.assert_low_started_while_urgent_jobs_waited()
