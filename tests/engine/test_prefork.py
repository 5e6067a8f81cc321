"""A prefork worker (`WORKER_POOL=prefork`): its children run every job once, on one database."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.http_server import LocalHTTPServer
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import data_of, jobs_of, task_row
from website.models import JobStatus, Task
from website.services.scheduler import tick

pytestmark = pytest.mark.slow

RECORDS = [{"id": number, "name": f"record {number}"} for number in range(50)]
TASKS = 40


def test_a_prefork_worker_runs_every_job_once_in_its_child_processes(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.json("/feed", RECORDS)
    worker = celery_processes.worker(concurrency=4, pool="prefork")
    tasks = [make_task(name=f"t{n}", url=http_server.url("/feed")) for n in range(TASKS)]

    assert len(tick().published) == TASKS

    def finished() -> bool:
        return all(
            job.status != JobStatus.QUEUED and job.finished_at
            for t in tasks
            for job in jobs_of(t.id)
        )

    wait_for(finished, timeout=60, message=celery_processes.logs())
    jobs = [job for task in tasks for job in jobs_of(task.id)]
    assert len(jobs) == TASKS
    assert {job.status for job in jobs} == {JobStatus.SUCCEEDED}, celery_processes.logs()
    assert all(len(data_of(job.id)) == len(RECORDS) for job in jobs)
    assert all(task_row(task.id).last_data_job_id is not None for task in tasks)
    # Each job names the child process that ran it, never the parent that only dispatched it.
    workers = {job.worker for job in jobs}
    assert all(name and not name.endswith(f":{worker.pid}") for name in workers)
    assert len(http_server.requests_to("/feed")) == TASKS
    assert "Traceback" not in celery_processes.logs()
