"""Cancelling jobs with real worker (and beat) processes, against a real local HTTP server."""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import data_of, jobs_of, task_row
from website.models import JobStatus, Task

pytestmark = pytest.mark.slow

RECORDS = [{"id": number, "name": f"record {number}"} for number in range(20)]
RECORDS_BODY = json.dumps(RECORDS).encode()


def test_a_job_cancelled_while_queued_is_never_fetched(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    client: FlaskClient,
    auth_headers: dict[str, str],
) -> None:
    http_server.json("/cancelled", RECORDS)
    http_server.json("/feed", RECORDS)
    cancelled_task = make_task(name="cancelled", url=http_server.url("/cancelled"))
    other_task = make_task(name="other", url=http_server.url("/feed"))
    # No worker yet: the job waits in the queue with its message.
    queued = client.post(f"/tasks/{cancelled_task.id}/run", headers=auth_headers).json
    cancelled = client.post(f"/jobs/{queued['id']}/cancel", headers=auth_headers)
    assert (cancelled.status_code, cancelled.json["status"]) == (200, "cancelled")

    celery_processes.worker()
    # The worker took the cancelled job's message before this one's (one queue, same priority).
    client.post(f"/tasks/{other_task.id}/run", headers=auth_headers)
    wait_for(
        lambda: [job.status for job in jobs_of(other_task.id)] == [JobStatus.SUCCEEDED],
        timeout=60,
        message=celery_processes.logs(),
    )

    assert http_server.requests_to("/cancelled") == []
    [job] = jobs_of(cancelled_task.id)
    assert (job.status, job.started_at) == (JobStatus.CANCELLED, None)
    assert "job not claimed" in celery_processes.logs()


def test_a_job_cancelled_mid_fetch_is_abandoned_and_the_task_runs_at_its_next_slot(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    client: FlaskClient,
    auth_headers: dict[str, str],
    release: threading.Event,
) -> None:
    def first_hangs(request: Request) -> Reply:
        if len(http_server.requests_to("/slow")) == 1:
            release.wait(timeout=300)
        return Reply(200, RECORDS_BODY, {"Content-Type": "application/json"})

    http_server.route("/slow", first_hangs)
    # One prefork child: until the hung fetch is abandoned, nothing else (not even a tick) runs.
    worker = celery_processes.worker(concurrency=1, pool="prefork")
    celery_processes.beat()
    task = make_task(url=http_server.url("/slow"), task_interval=5, max_execution_time=200)

    wait_for(lambda: len(http_server.requests_to("/slow")) == 1, timeout=60)
    [running] = jobs_of(task.id)
    before = task_row(task.id)
    response = client.post(f"/tasks/{task.id}/cancel", headers=auth_headers)

    assert response.status_code == 200
    assert (response.json["id"], response.json["status"]) == (running.id, "cancelled")
    # The child is interrupted: the next slot's run happens long before the hung fetch could
    # end by itself (its deadline is 200 s away, and its server never answers until then).
    wait_for(
        lambda: any(job.status == JobStatus.SUCCEEDED for job in jobs_of(task.id)),
        timeout=60,
        message=celery_processes.logs(),
    )
    jobs = jobs_of(task.id)
    assert jobs[0].status == JobStatus.CANCELLED
    assert data_of(jobs[0].id) == []
    assert {job.status for job in jobs[1:]} == {JobStatus.SUCCEEDED}
    assert before.attempt == 0
    assert task_row(task.id).attempt == 0
    assert task_row(task.id).last_job_id != jobs[0].id
    logs = worker.log_text()
    assert "interrupting the run of a cancelled job" in logs
    assert "run interrupted; the job was cancelled" in logs
    assert "timed out" not in logs


def test_a_job_cancelled_mid_fetch_on_the_threads_pool_stores_nothing_when_its_fetch_ends(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    client: FlaskClient,
    auth_headers: dict[str, str],
    release: threading.Event,
) -> None:
    def first_hangs(request: Request) -> Reply:
        if len(http_server.requests_to("/slow")) == 1:
            release.wait(timeout=300)
        return Reply(200, RECORDS_BODY, {"Content-Type": "application/json"})

    http_server.route("/slow", first_hangs)
    # The default pool: the hung fetch holds one thread, the others run the next slots.
    worker = celery_processes.worker(concurrency=4, pool="threads")
    celery_processes.beat()
    task = make_task(url=http_server.url("/slow"), task_interval=5, max_execution_time=200)

    wait_for(lambda: len(http_server.requests_to("/slow")) == 1, timeout=60)
    [running] = jobs_of(task.id)
    response = client.post(f"/tasks/{task.id}/cancel", headers=auth_headers)

    assert (response.status_code, response.json["id"]) == (200, running.id)
    wait_for(
        lambda: any(job.status == JobStatus.SUCCEEDED for job in jobs_of(task.id)),
        timeout=60,
        message=celery_processes.logs(),
    )
    # The hung fetch ends with its records: they go nowhere.
    release.set()
    wait_for(
        lambda: "job result discarded" in worker.log_text(),
        timeout=60,
        message=celery_processes.logs(),
    )
    jobs = jobs_of(task.id)
    assert jobs[0].status == JobStatus.CANCELLED
    assert data_of(jobs[0].id) == []
    # Beat goes on dispatching: a later slot may still be running.
    assert {job.status for job in jobs[1:] if job.is_final} == {JobStatus.SUCCEEDED}
    assert task_row(task.id).attempt == 0
    assert task_row(task.id).last_job_id != jobs[0].id
    assert "Traceback" not in worker.log_text()


@pytest.mark.parametrize("pool", ["prefork", "threads"])
def test_a_cancellation_racing_the_finish_leaves_exactly_one_outcome(
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    client: FlaskClient,
    auth_headers: dict[str, str],
    pool: str,
) -> None:
    def answer_soon(_request: Request) -> Reply:
        return Reply(200, RECORDS_BODY, {"Content-Type": "application/json"}, delay=0.05)

    http_server.route("/feed", answer_soon)
    worker = celery_processes.worker(concurrency=2, pool=pool)
    task = make_task(url=http_server.url("/feed"), task_interval=3600)
    # Random waits spread the cancellations over queued, mid-fetch and finishing runs.
    chance = random.Random(15)
    answers = []
    for _ in range(25):
        job = client.post(f"/tasks/{task.id}/run", headers=auth_headers).json
        threading.Event().wait(chance.uniform(0.0, 0.1))
        answers.append(client.post(f"/jobs/{job['id']}/cancel", headers=auth_headers))
        wait_for(lambda: jobs_of(task.id)[-1].is_final, timeout=60, message=celery_processes.logs())

    jobs = jobs_of(task.id)
    assert len(jobs) == 25
    for job, answer in zip(jobs, answers, strict=True):
        rows = data_of(job.id)
        if answer.status_code == 200:
            assert (job.status, rows) == (JobStatus.CANCELLED, []), celery_processes.logs()
        else:
            assert answer.status_code == 409
            assert job.status == JobStatus.SUCCEEDED
            assert len(rows) == len(RECORDS)
    succeeded = [job.id for job in jobs if job.status == JobStatus.SUCCEEDED]
    stored = task_row(task.id)
    assert stored.attempt == 0
    assert stored.last_job_id == (succeeded[-1] if succeeded else None)
    if pool == "threads":  # it cannot interrupt a run: it says so, without an error
        assert "Traceback" not in worker.log_text()
