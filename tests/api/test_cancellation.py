"""Cancelling a job through the API: who may, which jobs, and what a cancelled job leaves."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.conftest import headers_for
from tests.support.broker import queued_messages
from tests.support.job_rows import add_job
from tests.support.rows import jobs_of, task_row
from website.models import JobStatus, Role, Task, User
from website.redis_client import get_redis
from website.services.executor import run_job


def test_a_queued_job_is_cancelled_and_its_delivery_then_does_nothing(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    queued = client.post(f"/tasks/{task.id}/run", headers=auth_headers).json
    before = task_row(task.id)

    response = client.post(f"/jobs/{queued['id']}/cancel", headers=auth_headers)

    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["finished_at"] is not None
    assert response.json["error"] == "Cancelled by alice"
    [message] = queued_messages(get_redis())
    assert run_job(*message.args, **message.kwargs) is None  # the worker finds nothing to do
    [job] = jobs_of(task.id)
    assert (job.status, job.started_at) == (JobStatus.CANCELLED, None)
    after = task_row(task.id)
    assert (after.attempt, after.next_run_at, after.last_job_id, after.last_execution_status) == (
        before.attempt,
        before.next_run_at,
        before.last_job_id,
        before.last_execution_status,
    )


def test_cancelling_a_cancelled_job_answers_it_again(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    job = add_job(make_task(), "queued")
    first = client.post(f"/jobs/{job.id}/cancel", headers=auth_headers)

    again = client.post(f"/jobs/{job.id}/cancel", headers=auth_headers)

    assert again.status_code == 200
    assert again.json == first.json


@pytest.mark.parametrize(
    ("status", "said"),
    [
        ("succeeded", "succeeded"),
        ("failed", "failed"),
        ("timed_out", "timed out"),
        ("lost", "was lost"),
    ],
)
def test_a_finished_job_cannot_be_cancelled(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    status: str,
    said: str,
) -> None:
    job = add_job(make_task(), status)

    response = client.post(f"/jobs/{job.id}/cancel", headers=auth_headers)

    assert response.status_code == 409
    assert response.json["message"] == f"The job already finished: it {said}"
    assert jobs_of(job.task_id)[0].status == status


def test_a_running_job_is_cancelled(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    job = add_job(make_task(), "running")

    response = client.post(f"/jobs/{job.id}/cancel", headers=auth_headers)

    assert response.status_code == 200
    assert response.json["status"] == "cancelled"
    assert response.json["started_at"] is not None


def test_another_users_job_is_not_found_and_stays_as_it_was(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
) -> None:
    job = add_job(make_task(owner=make_user("bob")), "queued")

    response = client.post(f"/jobs/{job.id}/cancel", headers=auth_headers)
    by_task = client.post(f"/tasks/{job.task_id}/cancel", headers=auth_headers)

    assert (response.status_code, by_task.status_code) == (404, 404)
    assert response.json["message"] == "Job not found"
    assert jobs_of(job.task_id)[0].status == JobStatus.QUEUED


def test_an_admin_cancels_another_users_job_with_all(
    client: FlaskClient, make_user: Callable[..., User], make_task: Callable[..., Task]
) -> None:
    admin = headers_for(make_user("root", role=Role.ADMIN))
    job = add_job(make_task(owner=make_user("bob")), "queued")

    assert client.post(f"/jobs/{job.id}/cancel", headers=admin).status_code == 404
    response = client.post(f"/jobs/{job.id}/cancel?all=1", headers=admin)

    assert response.status_code == 200
    assert response.json["error"] == "Cancelled by root"


def test_an_unknown_job_is_not_found(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    assert client.post("/jobs/999/cancel", headers=auth_headers).status_code == 404


def test_cancelling_needs_a_token(client: FlaskClient, make_task: Callable[..., Task]) -> None:
    job = add_job(make_task(), "queued")

    assert client.post(f"/jobs/{job.id}/cancel").status_code == 401


def test_the_task_endpoint_cancels_the_tasks_unfinished_job(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    add_job(task, "failed")
    unfinished = add_job(task, "queued")

    response = client.post(f"/tasks/{task.id}/cancel", headers=auth_headers)

    assert response.status_code == 200
    assert (response.json["id"], response.json["status"]) == (unfinished.id, "cancelled")
    assert [job.status for job in jobs_of(task.id)] == [JobStatus.FAILED, JobStatus.CANCELLED]


def test_the_task_endpoint_is_a_conflict_without_an_unfinished_job(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    add_job(task, "succeeded")

    response = client.post(f"/tasks/{task.id}/cancel", headers=auth_headers)

    assert response.status_code == 409
    assert response.json["message"] == "No run of this task is queued or running"


def test_a_task_whose_run_was_cancelled_can_run_again(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    client.post(f"/tasks/{task.id}/run", headers=auth_headers)
    client.post(f"/tasks/{task.id}/cancel", headers=auth_headers)

    response = client.post(f"/tasks/{task.id}/run", headers=auth_headers)

    assert response.status_code == 202
    assert [job.status for job in jobs_of(task.id)] == [JobStatus.CANCELLED, JobStatus.QUEUED]
