"""Cancellation against the executor, in process, at each point of a run (a real local server).

The server's handler cancels the job while the worker waits for it, so every interleaving here
is deterministic: the run's finish, its failure, its time limit and the reconciler all come
after the cancellation and must leave the job ``cancelled``, with no data and the task alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask

from tests.support.broker import queued_messages
from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.rows import data_of, jobs_of, set_job, set_task, task_row
from website.errors import Conflict
from website.extensions import db
from website.models import JobStatus, Task, User
from website.redis_client import get_redis
from website.services.cancellation import cancel_job
from website.services.executor import claim_job, record_timeout, run_job
from website.services.manual_runs import run_task_now
from website.services.reconciler import mark_lost_jobs

RECORDS = [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}]


def delivered(job_id: int) -> str | None:
    [message] = [m for m in queued_messages(get_redis()) if m.args == [job_id]]
    return run_job(*message.args, **message.kwargs)


def task_fields(task_id: int) -> tuple[object, ...]:
    task = task_row(task_id)
    return (
        task.attempt,
        task.next_run_at,
        task.last_job_id,
        task.last_data_job_id,
        task.last_execution_status,
        task.last_execute_time,
    )


@pytest.mark.parametrize(
    "reply",
    [
        pytest.param(Reply(200, json.dumps(RECORDS).encode()), id="then-succeeds"),
        pytest.param(Reply(500, b'{"error": "down"}'), id="then-fails"),
    ],
)
def test_a_job_cancelled_mid_fetch_stores_nothing_and_leaves_its_task_alone(
    app: Flask,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    user: User,
    reply: Reply,
) -> None:
    task = make_task(url=http_server.url("/feed"), max_attempt=1)
    set_task(task.id, attempt=0)
    job_id = run_task_now(task.id).id
    before = task_fields(task.id)

    def cancel_then_answer(_request: Request) -> Reply:
        with app.app_context():
            cancel_job(job_id, user.id, cancelled_by=user.id)
            db.session.remove()
        return reply

    http_server.route("/feed", cancel_then_answer)

    assert delivered(job_id) is None  # the result is discarded

    [job] = jobs_of(task.id)
    assert (job.status, job.error) == (JobStatus.CANCELLED, "Cancelled by alice")
    assert job.started_at is not None
    assert job.finished_at is not None
    assert data_of(job_id) == []
    assert task_fields(task.id) == before  # no attempt counted, nothing recorded, same schedule


def test_a_time_limit_after_the_cancellation_leaves_the_job_cancelled(
    make_task: Callable[..., Task], user: User
) -> None:
    task = make_task()
    job_id = run_task_now(task.id).id
    assert claim_job(job_id, deadline=2.0) is not None
    cancel_job(job_id, None, cancelled_by=user.id)

    assert record_timeout(job_id, deadline=2.0) is None

    assert jobs_of(task.id)[0].status == JobStatus.CANCELLED
    assert task_row(task.id).attempt == 0


def test_the_reconciler_never_marks_a_cancelled_job_lost(
    make_task: Callable[..., Task], user: User
) -> None:
    task = make_task()
    job_id = run_task_now(task.id).id
    claim_job(job_id, deadline=2.0)
    cancel_job(job_id, None, cancelled_by=user.id)
    set_job(job_id, lease_until=datetime.now(UTC) - timedelta(seconds=5))

    assert mark_lost_jobs(datetime.now(UTC)) == []

    assert jobs_of(task.id)[0].status == JobStatus.CANCELLED
    assert task_row(task.id).attempt == 0


def test_a_job_that_finished_first_cannot_be_cancelled(
    make_task: Callable[..., Task], http_server: LocalHTTPServer, user: User
) -> None:
    http_server.json("/feed", RECORDS)
    task = make_task(url=http_server.url("/feed"))
    job_id = run_task_now(task.id).id
    assert delivered(job_id) == JobStatus.SUCCEEDED

    with pytest.raises(Conflict, match="The job already finished: it succeeded"):
        cancel_job(job_id, None, cancelled_by=user.id)

    assert jobs_of(task.id)[0].status == JobStatus.SUCCEEDED
    assert len(data_of(job_id)) == len(RECORDS)
