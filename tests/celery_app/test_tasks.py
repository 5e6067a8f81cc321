"""Celery's soft time limit in a prefork worker: the job ends timed out at once, not lost later."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.engine import Engine

from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import data_of, jobs_of, task_row
from website.extensions import db
from website.models import TASKS, JobStatus, Task
from website.services.manual_runs import run_task_now

pytestmark = pytest.mark.slow

RECORDS = [{"id": number} for number in range(20)]
SOFT_LIMIT_LOGGED = "Soft time limit"  # what the worker logs when it interrupts a job


def hold_task_row(
    engine: Engine, task_id: int, held: threading.Event, release: threading.Event
) -> None:
    """Lock the task's row (PostgreSQL) or the database's write lock (SQLite) until ``release``."""
    with engine.connect() as connection, connection.begin():
        connection.execute(select(TASKS.c.id).where(TASKS.c.id == task_id).with_for_update())
        held.set()
        release.wait(timeout=120)


def test_a_soft_time_limit_while_storing_records_times_the_job_out_at_once_storing_nothing(
    app: Flask,
    celery_processes: CeleryProcesses,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    task = make_task(url=http_server.url("/feed"), max_execution_time=2)
    engine = db.engine
    release = threading.Event()  # lets the task's row go

    def answer_with_the_task_locked(_request: Request) -> Reply:
        # The fetch succeeds, and storing its records then waits for the task's lock until
        # Celery's soft time limit interrupts it.
        held = threading.Event()
        holder = threading.Thread(
            target=hold_task_row, args=(engine, task.id, held, release), daemon=True
        )
        holder.start()
        held.wait(timeout=30)
        return Reply(200, json.dumps(RECORDS).encode(), {"Content-Type": "application/json"})

    http_server.route("/feed", answer_with_the_task_locked)
    worker = celery_processes.worker(concurrency=1, pool="prefork")
    job_id = run_task_now(task.id).id

    try:
        wait_for(
            lambda: SOFT_LIMIT_LOGGED in worker.log_text(), timeout=60, message=worker.log_text()
        )
    finally:
        release.set()

    wait_for(
        lambda: jobs_of(task.id)[0].status != JobStatus.RUNNING,
        timeout=20,
        message=f"the job is still running\n{celery_processes.logs()}",
    )
    [job] = jobs_of(task.id)
    assert job.status == JobStatus.TIMED_OUT, (job.error, celery_processes.logs())
    assert data_of(job_id) == []
    stored = task_row(task.id)
    assert (stored.attempt, stored.last_execution_status) == (1, JobStatus.TIMED_OUT)
    assert stored.last_data_job_id is None
