"""Hostile feeds and expressions in a real prefork worker: the job fails, the worker goes on."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.http_server import LocalHTTPServer, Reply
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import data_of, jobs_of
from website.models import JobStatus, Task

pytestmark = pytest.mark.slow

TINY_RECORDS = 5_000_000  # a 9.5 MiB body: under the body cap, far over the record limit
DOUBLING = "|".join(["[@,@]"] * 16)  # 95 characters; each step doubles the output
FEED = [{"id": number, "name": f"exhibitor {number}", "booth": "A1"} for number in range(25)]


@pytest.fixture
def worker_processes(app: Flask, tmp_path: Path) -> Iterator[CeleryProcesses]:
    with CeleryProcesses(tmp_path, FETCH_DEFAULT_TIMEOUT="30") as processes:
        yield processes


@pytest.fixture
def run_now(
    worker_processes: CeleryProcesses, client: FlaskClient, auth_headers: dict[str, str]
) -> Callable[[Task], int]:
    """Run a task through the API (which publishes its job); the job's id once it has ended."""

    def run(task: Task) -> int:
        assert client.post(f"/tasks/{task.id}/run", headers=auth_headers).status_code == 202
        wait_for(
            lambda: all(job.is_final for job in jobs_of(task.id)),
            timeout=120,
            message=worker_processes.logs(),
        )
        [job] = jobs_of(task.id)
        return job.id

    return run


def test_hostile_feeds_and_expressions_fail_their_job_and_the_worker_runs_the_next(
    worker_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    run_now: Callable[[Task], int],
) -> None:
    tiny = b"[" + b"0," * (TINY_RECORDS - 1) + b"0]"
    http_server.route("/tiny", lambda _request: Reply(200, tiny))
    http_server.json("/feed", FEED)
    worker = worker_processes.worker(concurrency=1, pool="prefork")
    many = make_task(name="many", url=http_server.url("/tiny"), max_attempt=1)
    doubling = make_task(
        name="doubling",
        url=http_server.url("/feed"),
        parameters={"records": DOUBLING},
        max_attempt=1,
    )

    outcomes = {}
    for task in (many, doubling):
        job_id = run_now(task)
        [job] = jobs_of(task.id)
        outcomes[task.name] = (job.status, job.error, len(data_of(job_id)))

    assert outcomes == {
        "many": (JobStatus.FAILED, "Too many records: more than 100000 (FETCH_MAX_RECORDS).", 0),
        "doubling": (
            JobStatus.FAILED,
            "The records are too large: more than 40 MiB as JSON (FETCH_MAX_RECORDS_BYTES).",
            0,
        ),
    }, worker_processes.logs()
    assert worker.running
    healthy = make_task(name="healthy", url=http_server.url("/feed"))
    job_id = run_now(healthy)
    assert jobs_of(healthy.id)[0].status == JobStatus.SUCCEEDED, worker_processes.logs()
    assert len(data_of(job_id)) == len(FEED)


def test_a_child_past_worker_max_memory_per_child_is_replaced_after_its_job(
    worker_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    run_now: Callable[[Task], int],
) -> None:
    http_server.json("/feed", FEED)
    # 1 KiB: every child is past it once its job ends, so each job gets a fresh child.
    worker = worker_processes.worker(concurrency=1, pool="prefork", WORKER_MAX_MEMORY_PER_CHILD="1")
    tasks = [make_task(name=f"t{n}", url=http_server.url("/feed")) for n in range(2)]

    for task in tasks:
        run_now(task)

    jobs = [jobs_of(task.id)[0] for task in tasks]
    assert [job.status for job in jobs] == [JobStatus.SUCCEEDED] * 2, worker_processes.logs()
    assert jobs[0].worker != jobs[1].worker  # host:pid of the child that ran each job
    assert worker.running
