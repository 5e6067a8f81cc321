"""A task's status and controls: pause, resume, reset-attempt and run."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from tests.support.job_rows import add_job
from website.extensions import db
from website.models import Job, Task, User

ACTIONS = ["status", "pause", "resume", "reset-attempt", "run"]


def exhausted_task(make_task: Callable[..., Task]) -> Task:
    """A task whose failures reached max_attempt: the engine planned no further run."""
    task = make_task(max_attempt=3)
    task.attempt = 3
    task.next_run_at = None
    db.session.commit()
    return task


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_status_of_a_task_that_never_ran_is_200_with_nulls(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(max_attempt=4)

    response = client.get(f"/tasks/{task.id}/status", headers=auth_headers)

    assert response.status_code == 200
    status = response.json
    assert {key: status[key] for key in status if key != "next_run_at"} == {
        "id": task.id,
        "state": "active",
        "execution_time": None,
        "last_execute_time": None,
        "last_execution_status": None,
        "last_execution_error": None,
        "last_execution_data": None,
        "last_job_id": None,
        "attempt": 0,
        "max_attempt": 4,
    }
    assert parse_time(status["next_run_at"]) == task.next_run_at


def test_status_shows_the_last_run_and_the_records_of_the_last_success(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    records = [{"id": number, "name": f"attendee {number}"} for number in range(3)]
    job = add_job(task, records=records, records_added=3, records_changed=0, records_removed=0)

    status = client.get(f"/tasks/{task.id}/status", headers=auth_headers).json

    assert status["last_execution_status"] == "succeeded"
    assert status["execution_time"] == 0.5
    assert status["last_job_id"] == job.id
    assert parse_time(status["last_execute_time"]) == job.finished_at
    assert status["last_execution_data"] == {
        "job_id": job.id,
        "fetched_at": status["last_execute_time"],
        "total": 3,
        "records": records,
        "records_added": 3,
        "records_changed": 0,
        "records_removed": 0,
    }


def test_after_a_failure_the_status_shows_the_error_and_keeps_the_last_good_records(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    good = add_job(task, records=[{"id": 1}], age=timedelta(minutes=1))
    failed = add_job(task, "failed", error="HTTP 503", http_status=503)
    task.attempt = 1
    db.session.commit()

    status = client.get(f"/tasks/{task.id}/status", headers=auth_headers).json

    assert status["last_execution_status"] == "failed"
    assert status["last_execution_error"] == "HTTP 503"
    assert status["last_job_id"] == failed.id
    assert status["attempt"] == 1
    assert status["last_execution_data"]["job_id"] == good.id
    assert status["last_execution_data"]["records"] == [{"id": 1}]


@pytest.mark.parametrize(("limit", "shown"), [(0, 0), (2, 2), (1000, 5)])
def test_status_caps_the_records_at_limit_and_gives_the_total(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    limit: int,
    shown: int,
) -> None:
    task = make_task()
    add_job(task, records=[{"id": number} for number in range(5)])

    status = client.get(f"/tasks/{task.id}/status?limit={limit}", headers=auth_headers).json

    assert status["last_execution_data"]["total"] == 5
    assert status["last_execution_data"]["records"] == [{"id": n} for n in range(shown)]


@pytest.mark.parametrize("limit", ["-1", "1001", "many"])
def test_status_refuses_a_limit_out_of_range(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task], limit: str
) -> None:
    task = make_task()

    response = client.get(f"/tasks/{task.id}/status?limit={limit}", headers=auth_headers)

    assert response.status_code == 422
    assert "limit" in response.json["errors"]


def test_pause_stops_the_task_and_resume_schedules_it_again(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()

    paused = client.post(f"/tasks/{task.id}/pause", headers=auth_headers)
    assert paused.status_code == 200
    assert (paused.json["state"], paused.json["enabled"]) == ("paused", False)
    assert client.get("/tasks?state=paused", headers=auth_headers).json[0]["id"] == task.id

    resumed = client.post(f"/tasks/{task.id}/resume", headers=auth_headers)
    assert resumed.status_code == 200
    assert (resumed.json["state"], resumed.json["enabled"]) == ("active", True)


def test_pause_and_resume_are_idempotent(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()

    for _ in range(2):
        assert client.post(f"/tasks/{task.id}/pause", headers=auth_headers).json["enabled"] is False
    for _ in range(2):
        assert client.post(f"/tasks/{task.id}/resume", headers=auth_headers).json["enabled"] is True


def test_resume_runs_a_slot_missed_while_paused_at_once(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(start_time=datetime.now(UTC) - timedelta(hours=3), task_interval=3600)
    task.last_execute_time = datetime.now(UTC) - timedelta(hours=2)
    db.session.commit()
    client.post(f"/tasks/{task.id}/pause", headers=auth_headers)

    before = datetime.now(UTC)
    resumed = client.post(f"/tasks/{task.id}/resume", headers=auth_headers).json

    assert before <= parse_time(resumed["next_run_at"]) <= datetime.now(UTC)


def test_resume_keeps_the_grid_when_no_slot_was_missed(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    task = make_task(start_time=start, task_interval=3600)
    task.last_execute_time = start + timedelta(seconds=1)
    db.session.commit()
    client.post(f"/tasks/{task.id}/pause", headers=auth_headers)

    resumed = client.post(f"/tasks/{task.id}/resume", headers=auth_headers).json

    assert parse_time(resumed["next_run_at"]) == start + timedelta(hours=1)


def test_reset_attempt_revives_an_exhausted_task_and_runs_it_soon(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = exhausted_task(make_task)
    assert client.get(f"/tasks/{task.id}", headers=auth_headers).json["state"] == "exhausted"

    before = datetime.now(UTC)
    response = client.post(f"/tasks/{task.id}/reset-attempt", headers=auth_headers)

    assert response.status_code == 200
    assert (response.json["state"], response.json["attempt"]) == ("active", 0)
    assert before <= parse_time(response.json["next_run_at"]) <= datetime.now(UTC)


def test_reset_attempt_of_a_pending_task_waits_for_its_start(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    task = make_task(start_time=start, attempt=2)

    response = client.post(f"/tasks/{task.id}/reset-attempt", headers=auth_headers)

    assert response.json["attempt"] == 0
    assert parse_time(response.json["next_run_at"]) == start


def test_run_queues_one_manual_job_now(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()

    before = datetime.now(UTC)
    response = client.post(f"/tasks/{task.id}/run", headers=auth_headers)

    assert response.status_code == 202
    job = response.json
    assert (job["task_id"], job["status"], job["trigger"]) == (task.id, "queued", "manual")
    assert before <= parse_time(job["scheduled_for"]) <= datetime.now(UTC)
    listed = client.get(f"/tasks/{task.id}/jobs", headers=auth_headers).json
    assert [listed_job["id"] for listed_job in listed] == [job["id"]]


def test_run_refuses_a_second_run_while_one_is_queued_or_running(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    assert client.post(f"/tasks/{task.id}/run", headers=auth_headers).status_code == 202

    response = client.post(f"/tasks/{task.id}/run", headers=auth_headers)

    assert response.status_code == 409
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert db.session.query(Job).filter_by(task_id=task.id).count() == 1


def test_run_after_the_previous_run_finished_queues_another(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    add_job(task, records=[])

    response = client.post(f"/tasks/{task.id}/run", headers=auth_headers)

    assert response.status_code == 202


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_is_404_for_another_users_task_and_changes_nothing(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    action: str,
) -> None:
    task = make_task(owner=make_user("bob"), attempt=2)
    method = client.get if action == "status" else client.post

    response = method(f"/tasks/{task.id}/{action}", headers=auth_headers)

    assert response.status_code == 404
    db.session.refresh(task)
    assert (task.enabled, task.attempt) == (True, 2)
    assert db.session.query(Job).count() == 0


@pytest.mark.parametrize("action", ACTIONS)
def test_every_action_needs_a_token(
    client: FlaskClient, make_task: Callable[..., Task], action: str
) -> None:
    task = make_task()
    method = client.get if action == "status" else client.post

    assert method(f"/tasks/{task.id}/{action}").status_code == 401


def test_raising_max_attempt_above_the_failures_revives_an_exhausted_task(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = exhausted_task(make_task)

    response = client.patch(f"/tasks/{task.id}", json={"max_attempt": 5}, headers=auth_headers)

    assert response.status_code == 200
    assert (response.json["state"], response.json["attempt"]) == ("active", 3)
    assert parse_time(response.json["next_run_at"]) <= datetime.now(UTC) + timedelta(seconds=1)
