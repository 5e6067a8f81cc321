"""One-off tasks (no task_interval) and the per-task retry_backoff, through the API and in process.

A one-off task runs once at its start, retries a failure after its backoff, then ends completed
(its run succeeded) or exhausted. The engine with real processes: tests/engine/test_one_off.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.broker import queued_messages
from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.rows import jobs_of, set_job, set_task, task_row
from website.extensions import db
from website.models import JobStatus, Task, TaskState
from website.redis_client import get_redis
from website.services.executor import run_job
from website.services.manual_runs import run_task_now
from website.services.reconciler import mark_lost_jobs
from website.services.scheduler import tick

FEED = [{"id": 1}]


def new_one_off(**values: Any) -> dict[str, Any]:
    return {"name": "once", "url": "https://example.com/feed.json", **values}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def completed(task: Task) -> None:
    """As the engine leaves a one-off task whose run succeeded."""
    set_task(
        task.id,
        next_run_at=None,
        last_execution_status=JobStatus.SUCCEEDED,
        last_execute_time=datetime.now(UTC),  # after its start
    )


def delivered(job_id: int) -> str | None:
    """Run the job as a worker does, with its queued message's arguments."""
    [message] = [m for m in queued_messages(get_redis()) if m.args == [job_id]]
    return run_job(*message.args, **message.kwargs)


# --- The API: create, show, change ------------------------------------------------------------


@pytest.mark.parametrize("body", [new_one_off(), new_one_off(task_interval=None)])
def test_a_task_without_an_interval_is_a_one_off_task_due_now(
    client: FlaskClient, auth_headers: dict[str, str], body: dict[str, Any]
) -> None:
    before = datetime.now(UTC)

    response = client.post("/tasks", json=body, headers=auth_headers)

    assert response.status_code == 201, response.json
    task = response.json
    assert (task["task_interval"], task["retry_backoff"], task["state"]) == (None, 1.0, "active")
    assert before <= parse_time(task["start_time"]) <= parse_time(task["next_run_at"])


def test_a_one_off_task_starting_later_is_pending_until_then(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    start = "2099-01-01T00:00:00+00:00"

    task = client.post("/tasks", json=new_one_off(start_time=start), headers=auth_headers).json

    assert (task["state"], task["next_run_at"]) == ("pending", start)


def test_retry_backoff_is_stored_shown_and_changed(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    body = new_one_off(task_interval=60, retry_backoff=2.5)
    created = client.post("/tasks", json=body, headers=auth_headers).json
    assert created["retry_backoff"] == 2.5

    response = client.patch(
        f"/tasks/{created['id']}", json={"retry_backoff": 3600}, headers=auth_headers
    )

    assert (response.status_code, response.json["retry_backoff"]) == (200, 3600.0)
    assert client.get(f"/tasks/{created['id']}", headers=auth_headers).json["retry_backoff"] == 3600


@pytest.mark.parametrize("value", [0, -1, 3600.5, 1e6, "2", True, None, [1]])
def test_a_retry_backoff_out_of_bounds_or_not_a_number_is_422(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task], value: object
) -> None:
    task = make_task(retry_backoff=4.0)

    created = client.post("/tasks", json=new_one_off(retry_backoff=value), headers=auth_headers)
    patched = client.patch(f"/tasks/{task.id}", json={"retry_backoff": value}, headers=auth_headers)

    for response in (created, patched):
        assert response.status_code == 422, response.json
        assert set(response.json) >= {"code", "status", "message", "errors"}
        assert list(response.json["errors"]) == ["retry_backoff"]
    assert task_row(task.id).retry_backoff == 4.0


def test_the_422_names_the_bounds_of_retry_backoff(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post("/tasks", json=new_one_off(retry_backoff=0), headers=auth_headers)

    assert response.json["errors"]["retry_backoff"] == [
        "Must be more than 0 and at most 3600 seconds."
    ]


def test_patch_turns_an_interval_task_whose_run_succeeded_into_a_completed_one_off_task(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(task_interval=60)
    set_task(
        task.id,
        last_execution_status=JobStatus.SUCCEEDED,
        last_execute_time=datetime.now(UTC),  # after its start
    )

    response = client.patch(f"/tasks/{task.id}", json={"task_interval": None}, headers=auth_headers)

    assert response.status_code == 200, response.json
    assert (response.json["task_interval"], response.json["next_run_at"]) == (None, None)
    assert response.json["state"] == "completed"


def test_patch_turns_an_interval_task_that_never_ran_into_a_one_off_task_still_due(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(task_interval=60)

    response = client.patch(f"/tasks/{task.id}", json={"task_interval": None}, headers=auth_headers)

    assert (response.json["state"], response.json["next_run_at"] is not None) == ("active", True)


def test_patch_turns_a_completed_one_off_task_into_an_interval_task_on_its_grid(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(task_interval=None)
    completed(task)

    response = client.patch(f"/tasks/{task.id}", json={"task_interval": 30}, headers=auth_headers)

    assert (response.json["task_interval"], response.json["state"]) == (30, "active")
    assert response.json["next_run_at"] is not None


def test_a_new_url_runs_a_completed_one_off_task_again_and_a_new_name_does_not(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(task_interval=None)
    completed(task)

    renamed = client.patch(f"/tasks/{task.id}", json={"name": "other"}, headers=auth_headers)
    moved = client.patch(
        f"/tasks/{task.id}", json={"url": "https://example.com/other.json"}, headers=auth_headers
    )

    assert renamed.json["state"] == "completed"
    assert (moved.json["state"], moved.json["next_run_at"] is not None) == ("active", True)


def test_the_listing_filters_and_the_status_shows_completed_tasks(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    done = make_task(task_interval=None)
    completed(done)
    make_task(task_interval=None)  # not run yet: active
    make_task(task_interval=60)

    listed = client.get("/tasks?state=completed", headers=auth_headers)
    status = client.get(f"/tasks/{done.id}/status", headers=auth_headers)

    assert [task["id"] for task in listed.json] == [done.id]
    assert listed.json[0]["state"] == "completed"
    assert (status.json["state"], status.json["next_run_at"]) == ("completed", None)
    assert client.get("/tasks?state=finished", headers=auth_headers).status_code == 422


def test_pause_resume_and_reset_attempt_leave_a_completed_task_completed(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(task_interval=None)
    completed(task)

    for action in ("pause", "resume", "reset-attempt"):
        response = client.post(f"/tasks/{task.id}/{action}", headers=auth_headers)
        assert (action, response.status_code, response.json["state"]) == (
            action,
            200,
            "completed",
        )
    assert task_row(task.id).next_run_at is None


def test_reset_attempt_revives_an_exhausted_one_off_task(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(task_interval=None, max_attempt=2)
    set_task(task.id, attempt=2, next_run_at=None, last_execution_status=JobStatus.FAILED)
    assert task_row(task.id).state == TaskState.EXHAUSTED

    response = client.post(f"/tasks/{task.id}/reset-attempt", headers=auth_headers)

    assert (response.json["state"], response.json["attempt"]) == ("active", 0)
    assert response.json["next_run_at"] is not None


def test_one_off_settings_of_another_users_task_are_404(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    make_user: Callable[..., Any],
) -> None:
    theirs = make_task(owner=make_user("someone"))

    response = client.patch(
        f"/tasks/{theirs.id}",
        json={"task_interval": None, "retry_backoff": 2},
        headers=auth_headers,
    )

    assert response.status_code == 404
    assert (task_row(theirs.id).task_interval, task_row(theirs.id).retry_backoff) == (60, 1.0)


# --- In process: the claim, the executor, the reconciler, a manual run ------------------------


def test_the_claim_queues_the_one_run_and_plans_nothing_more(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", FEED)
    task = make_task(url=http_server.url("/feed"), task_interval=None)

    tick(datetime.now(UTC))

    [job] = jobs_of(task.id)
    stored = task_row(task.id)
    assert (stored.next_run_at, stored.state) == (None, TaskState.ACTIVE)  # its run under way
    assert delivered(job.id) == JobStatus.SUCCEEDED
    stored = task_row(task.id)
    assert (stored.next_run_at, stored.state) == (None, TaskState.COMPLETED)
    tick(datetime.now(UTC) + timedelta(hours=1))
    assert len(jobs_of(task.id)) == 1


def test_a_failed_one_off_run_retries_after_the_tasks_backoff(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", {"error": "down"}, status=500)
    task = make_task(url=http_server.url("/feed"), task_interval=None, retry_backoff=30.0)
    tick(datetime.now(UTC))
    [job] = jobs_of(task.id)

    assert delivered(job.id) == JobStatus.FAILED

    stored = task_row(task.id)
    assert (stored.attempt, stored.state) == (1, TaskState.ACTIVE)
    assert stored.next_run_at is not None
    assert stored.last_execute_time is not None
    retry_in = (stored.next_run_at - stored.last_execute_time).total_seconds()
    assert 30 <= retry_in <= 30 * 1.1 + 5  # the backoff, its jitter, the run's own time


def test_a_lost_job_of_a_one_off_task_is_a_failure_that_retries(
    app: Flask, make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    task = make_task(url=http_server.url("/feed"), task_interval=None, max_attempt=2)
    tick(datetime.now(UTC))
    [job] = jobs_of(task.id)
    set_job(
        job.id,
        status=JobStatus.RUNNING,
        started_at=datetime.now(UTC) - timedelta(seconds=5),
        lease_until=datetime.now(UTC) - timedelta(seconds=1),
    )

    assert mark_lost_jobs(datetime.now(UTC)) == [job.id]

    stored = task_row(task.id)
    assert (stored.attempt, stored.last_execution_status) == (1, JobStatus.LOST)
    assert (stored.state, stored.next_run_at is not None) == (TaskState.ACTIVE, True)


def test_a_manual_run_of_a_completed_one_off_task_runs_it_once_more(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", FEED)
    task = make_task(url=http_server.url("/feed"), task_interval=None)
    completed(task)

    job = run_task_now(task.id)
    assert task_row(task.id).state == TaskState.COMPLETED  # while its run is under way, too
    assert delivered(job.id) == JobStatus.SUCCEEDED

    stored = task_row(task.id)
    assert (stored.state, stored.next_run_at, stored.last_job_id) == (
        TaskState.COMPLETED,
        None,
        job.id,
    )
    assert len(http_server.requests_to("/feed")) == 1


def test_a_failed_manual_run_of_a_completed_one_off_task_retries_it(
    make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    def down(_request: Request) -> Reply:
        return Reply(503, json.dumps({"error": "down"}).encode())

    http_server.route("/feed", down)
    task = make_task(url=http_server.url("/feed"), task_interval=None)
    completed(task)

    assert delivered(run_task_now(task.id).id) == JobStatus.FAILED

    stored = task_row(task.id)
    assert (stored.state, stored.attempt, stored.next_run_at is not None) == (
        TaskState.ACTIVE,
        1,
        True,
    )
    db.session.remove()
