"""The executor, in process against a real local HTTP server: claim, fetch, store, fail, retry.

Jobs run as a worker runs them: with the arguments of the message their publisher sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask

from tests.support.broker import queued_messages
from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.job_rows import add_job
from tests.support.rows import data_of, jobs_of, set_job, set_task, task_exists, task_row
from website.extensions import db
from website.models import JobStatus, Task, TaskState
from website.redis_client import get_redis
from website.services.executor import claim_job, record_timeout, run_job
from website.services.manual_runs import run_task_now
from website.services.reconciler import mark_lost_jobs

RECORDS = [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}, {"id": 3, "name": "linus"}]


def queued_job(task: Task) -> int:
    return run_task_now(task.id).id


def delivered(job_id: int) -> str | None:
    """Run the job with its queued message's arguments: ``fetch.run_job(job_id, deadline=...)``."""
    [message] = [m for m in queued_messages(get_redis()) if m.args == [job_id]]
    return run_job(*message.args, **message.kwargs)


def test_stores_the_records_and_the_tasks_last_run(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", RECORDS)
    task = make_task(url=http_server.url("/feed"))
    set_task(task.id, attempt=2)
    job_id = queued_job(task)

    assert delivered(job_id) == JobStatus.SUCCEEDED

    [job] = jobs_of(task.id)
    assert (job.status, job.http_status, job.records_count, job.records_added) == (
        JobStatus.SUCCEEDED,
        200,
        3,
        3,
    )
    assert job.started_at is not None
    assert job.finished_at is not None
    assert sorted(row.record_key or "" for row in data_of(job_id)) == ["1", "2", "3"]
    stored = task_row(task.id)
    assert (stored.last_job_id, stored.last_data_job_id, stored.attempt) == (job_id, job_id, 0)
    assert (stored.last_execution_status, stored.last_execution_error) == ("succeeded", None)
    assert stored.last_execute_time == job.started_at
    assert (stored.last_execution_time or -1) >= 0


def test_counts_added_changed_and_removed_records_against_the_previous_run(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", RECORDS)
    task = make_task(url=http_server.url("/feed"))
    delivered(queued_job(task))
    http_server.json("/feed", [{"id": 1, "name": "ada"}, {"id": 2, "name": "hopper"}, {"id": 4}])

    delivered(queued_job(task))

    latest = jobs_of(task.id)[-1]
    assert (latest.records_added, latest.records_changed, latest.records_removed) == (1, 1, 1)


def test_a_304_succeeds_without_replacing_the_tasks_data(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    def conditional(request: Request) -> Reply:
        if request.headers.get("If-None-Match") == '"v1"':
            return Reply(304, b"", {"ETag": '"v1"'})
        return Reply(200, json.dumps(RECORDS).encode(), {"ETag": '"v1"'})

    http_server.route("/feed", conditional)
    task = make_task(url=http_server.url("/feed"))
    first = queued_job(task)
    delivered(first)
    second = queued_job(task)

    assert delivered(second) == JobStatus.SUCCEEDED

    latest = jobs_of(task.id)[-1]
    assert (latest.id, latest.not_modified, latest.records_count) == (second, True, 0)
    assert data_of(second) == []
    stored = task_row(task.id)
    assert (stored.last_job_id, stored.last_data_job_id, stored.etag) == (second, first, '"v1"')


@pytest.mark.parametrize(
    ("reply", "parameters", "error"),
    [
        pytest.param(Reply(500, b"{}"), {}, "500", id="server-error"),
        pytest.param(Reply(200, b"{not json"), {}, "JSON", id="invalid-json"),
        pytest.param(
            Reply(200, b'{"items": [1]}'), {"records": "items[?"}, "xpression", id="bad-records"
        ),
    ],
)
def test_a_failed_fetch_fails_the_job_and_retries_the_task_after_a_second(
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    reply: Reply,
    parameters: dict[str, Any],
    error: str,
) -> None:
    http_server.route("/feed", lambda _request: reply)
    task = make_task(url=http_server.url("/feed"), parameters=parameters, task_interval=60)
    job_id = queued_job(task)

    assert delivered(job_id) == JobStatus.FAILED

    [job] = jobs_of(task.id)
    assert job.status == JobStatus.FAILED
    assert error in (job.error or "")
    stored = task_row(task.id)
    assert (stored.attempt, stored.last_execution_status) == (1, "failed")
    assert error in (stored.last_execution_error or "")
    assert stored.next_run_at is not None
    delay = (stored.next_run_at - (job.finished_at or datetime.now(UTC))).total_seconds()
    assert 1.0 <= delay < 2.0  # the first retry waits 1 s (+ up to 10% jitter)


def test_an_unreachable_server_fails_the_job(make_task: Callable[..., Task]) -> None:
    task = make_task(url="http://127.0.0.1:9/feed")  # the discard port: nothing listens

    assert delivered(queued_job(task)) == JobStatus.FAILED
    assert jobs_of(task.id)[0].error


def test_a_server_that_does_not_answer_in_time_times_the_job_out(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.route("/slow", lambda _request: Reply(200, b"[]", delay=4))
    task = make_task(url=http_server.url("/slow"), max_execution_time=1)

    assert delivered(queued_job(task)) == JobStatus.TIMED_OUT

    [job] = jobs_of(task.id)
    assert (job.duration or 0) < 1 + 2  # the deadline, plus the slack the spec allows
    assert task_row(task.id).attempt == 1


def test_the_last_allowed_failure_exhausts_the_task(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", {}, status=503)
    task = make_task(url=http_server.url("/feed"), max_attempt=2)
    set_task(task.id, attempt=1)

    delivered(queued_job(task))

    stored = task_row(task.id)
    assert (stored.attempt, stored.next_run_at) == (2, None)
    assert stored.state == TaskState.EXHAUSTED


def test_a_successful_manual_run_puts_an_exhausted_task_back_on_its_grid(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", RECORDS)
    task = make_task(url=http_server.url("/feed"), max_attempt=1, task_interval=30)
    set_task(task.id, attempt=1, next_run_at=None)

    delivered(queued_job(task))

    stored = task_row(task.id)
    assert stored.attempt == 0
    assert stored.next_run_at is not None
    assert stored.next_run_at > datetime.now(UTC)


def test_a_duplicate_delivery_does_nothing(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", RECORDS)
    task = make_task(url=http_server.url("/feed"))
    job_id = queued_job(task)
    delivered(job_id)

    assert delivered(job_id) is None

    assert len(http_server.requests_to("/feed")) == 1
    assert len(data_of(job_id)) == 3


def test_a_job_run_with_its_messages_deadline_is_claimed_in_one_statement_and_stored(
    app: Flask, make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", RECORDS)
    task = make_task(url=http_server.url("/feed"), parameters={"headers": {"X-Run": "1"}})
    job_id = queued_job(task)

    assert run_job(job_id, deadline=7.0) == JobStatus.SUCCEEDED

    [job] = jobs_of(task.id)
    assert (job.status, job.records_count) == (JobStatus.SUCCEEDED, 3)
    assert job.started_at is not None
    assert job.lease_until is not None
    grace = app.config["LEASE_GRACE_SECONDS"]
    assert job.lease_until - job.started_at == timedelta(seconds=7.0 + grace)
    assert sorted(row.record_key or "" for row in data_of(job_id)) == ["1", "2", "3"]
    [request] = http_server.requests_to("/feed")
    assert request.headers.get("X-Run") == "1"
    assert task_row(task.id).last_job_id == job_id


def test_a_task_deleted_while_its_job_runs_discards_the_result_quietly(
    app: Flask,
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    task = make_task(url=http_server.url("/feed"))
    task_id = task.id

    def delete_then_answer(_request: Request) -> Reply:
        with app.app_context():
            db.session.delete(db.session.get(Task, task_id))
            db.session.commit()
            db.session.remove()
        return Reply(200, json.dumps(RECORDS).encode())

    http_server.route("/feed", delete_then_answer)
    job_id = queued_job(task)

    assert delivered(job_id) is None

    assert not task_exists(task_id)
    assert jobs_of(task_id) == []
    assert [record for record in caplog.records if record.levelname in {"ERROR", "CRITICAL"}] == []


def test_a_task_paused_while_its_job_runs_lets_the_job_finish(
    app: Flask, make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    task = make_task(url=http_server.url("/feed"))

    def pause_then_answer(_request: Request) -> Reply:
        with app.app_context():
            set_task(task.id, enabled=False)
            db.session.remove()
        return Reply(200, json.dumps(RECORDS).encode())

    http_server.route("/feed", pause_then_answer)

    assert delivered(queued_job(task)) == JobStatus.SUCCEEDED
    stored = task_row(task.id)
    assert (stored.enabled, stored.last_execution_status) == (False, "succeeded")


def test_a_result_arriving_after_the_job_was_declared_lost_is_discarded(
    app: Flask, make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    task = make_task(url=http_server.url("/feed"))
    job_id = queued_job(task)

    def lose_then_answer(_request: Request) -> Reply:
        with app.app_context():
            set_job(job_id, lease_until=datetime.now(UTC) - timedelta(seconds=1))
            mark_lost_jobs(datetime.now(UTC))
            db.session.remove()
        return Reply(200, json.dumps(RECORDS).encode())

    http_server.route("/feed", lose_then_answer)

    assert delivered(job_id) is None
    [job] = jobs_of(task.id)
    assert job.status == JobStatus.LOST
    assert data_of(job_id) == []
    assert task_row(task.id).attempt == 1  # the loss counted once, the late success not at all


def test_a_run_interrupted_by_the_time_limit_ends_timed_out_and_counts_as_a_failure(
    make_task: Callable[..., Task],
) -> None:
    task = make_task(max_attempt=3)
    job_id = queued_job(task)
    assert claim_job(job_id, deadline=2.0) is not None

    assert record_timeout(job_id, deadline=2.0) == JobStatus.TIMED_OUT

    [job] = jobs_of(task.id)
    assert (job.status, job.error) == (JobStatus.TIMED_OUT, "No result within 2 s")
    assert job.finished_at is not None
    stored = task_row(task.id)
    assert (stored.attempt, stored.last_execution_status) == (1, JobStatus.TIMED_OUT)
    assert stored.next_run_at is not None  # retried after a backoff


@pytest.mark.parametrize(
    "values",
    [
        pytest.param({"worker": "elsewhere:1"}, id="another-workers-run"),
        pytest.param({"status": JobStatus.SUCCEEDED}, id="finished-already"),
    ],
)
def test_a_time_limit_leaves_alone_a_run_that_is_not_this_processs_running_one(
    make_task: Callable[..., Task], values: dict[str, Any]
) -> None:
    task = make_task()
    job_id = queued_job(task)
    claim_job(job_id, deadline=2.0)
    set_job(job_id, **values)
    before = jobs_of(task.id)[0].status

    assert record_timeout(job_id, deadline=2.0) is None

    assert jobs_of(task.id)[0].status == before
    assert task_row(task.id).attempt == 0


def test_records_stored_by_another_run_during_the_fetch_are_what_the_diff_compares_with(
    app: Flask, make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", RECORDS)
    task = make_task(url=http_server.url("/feed"))
    delivered(queued_job(task))  # records 1, 2, 3
    body = json.dumps(RECORDS).encode()

    def answer_after_another_run_stored_its_records(_request: Request) -> Reply:
        with app.app_context():
            stored_task = db.session.get(Task, task.id)
            assert stored_task is not None
            add_job(stored_task, records=[{"id": 7}, {"id": 8}])  # now the task's data
        return Reply(200, body, {"Content-Type": "application/json"})

    http_server.route("/feed", answer_after_another_run_stored_its_records)
    job_id = queued_job(task)

    assert delivered(job_id) == JobStatus.SUCCEEDED

    [job] = [job for job in jobs_of(task.id) if job.id == job_id]
    assert (job.records_added, job.records_changed, job.records_removed) == (3, 0, 2)
    assert task_row(task.id).last_data_job_id == job_id
