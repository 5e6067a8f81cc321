"""A task's jobs, one job, and the records they brought back."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.conftest import headers_for
from tests.support.job_rows import add_job
from website.models import Role, Task, User

READ_PATHS = ["/jobs/{job}", "/jobs/{job}/data", "/tasks/{task}/jobs", "/tasks/{task}/data"]


def test_jobs_of_a_task_are_listed_newest_first(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    jobs = [add_job(task, status) for status in ("succeeded", "failed", "timed_out")]
    add_job(make_task(name="other"), "succeeded")

    response = client.get(f"/tasks/{task.id}/jobs", headers=auth_headers)

    assert response.status_code == 200
    assert [job["id"] for job in response.json] == [job.id for job in reversed(jobs)]
    assert [job["status"] for job in response.json] == ["timed_out", "failed", "succeeded"]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


def test_jobs_of_a_task_are_paginated(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    jobs = [add_job(task, "failed") for _ in range(5)]

    response = client.get(f"/tasks/{task.id}/jobs?page=2&page_size=2", headers=auth_headers)

    assert [job["id"] for job in response.json] == [jobs[2].id, jobs[1].id]
    assert json.loads(response.headers["X-Pagination"])["total_pages"] == 3


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_jobs_of_a_task_filter_by_status(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task], status: str
) -> None:
    task = make_task()
    by_status = {name: add_job(task, name) for name in ("succeeded", "failed")}

    response = client.get(f"/tasks/{task.id}/jobs?status={status}", headers=auth_headers)

    assert [job["id"] for job in response.json] == [by_status[status].id]


def test_jobs_filter_refuses_an_unknown_status(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()

    response = client.get(f"/tasks/{task.id}/jobs?status=done", headers=auth_headers)

    assert response.status_code == 422
    assert "status" in response.json["errors"]


def test_a_job_shows_how_its_run_went(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    job = add_job(
        task,
        records=[{"id": 1}, {"id": 2}],
        http_status=200,
        records_added=1,
        records_changed=1,
        records_removed=0,
    )

    response = client.get(f"/jobs/{job.id}", headers=auth_headers)

    assert response.status_code == 200
    shown = response.json
    assert (shown["id"], shown["task_id"], shown["status"]) == (job.id, task.id, "succeeded")
    assert (shown["http_status"], shown["duration"], shown["records_count"]) == (200, 0.5, 2)
    assert (shown["records_added"], shown["records_changed"], shown["records_removed"]) == (1, 1, 0)
    assert shown["not_modified"] is False
    assert shown["error"] is None


def test_a_failed_job_shows_its_error(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    job = add_job(make_task(), "failed", error="Invalid JSON at line 1 column 2", http_status=200)

    shown = client.get(f"/jobs/{job.id}", headers=auth_headers).json

    assert (shown["status"], shown["error"]) == ("failed", "Invalid JSON at line 1 column 2")


def test_job_data_lists_its_records_in_response_order(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    records = [{"id": 3, "name": "c"}, {"id": 1, "name": "a"}, "a bare string", None]
    job = add_job(make_task(), records=records)

    response = client.get(f"/jobs/{job.id}/data", headers=auth_headers)

    assert response.status_code == 200
    assert [row["payload"] for row in response.json] == records
    assert [row["record_key"] for row in response.json] == ["3", "1", None, None]
    assert {row["job_id"] for row in response.json} == {job.id}
    assert json.loads(response.headers["X-Pagination"])["total"] == 4


def test_job_data_is_paginated(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    job = add_job(make_task(), records=[{"id": number} for number in range(25)])

    response = client.get(f"/jobs/{job.id}/data?page=3&page_size=10", headers=auth_headers)

    assert [row["payload"]["id"] for row in response.json] == list(range(20, 25))
    assert json.loads(response.headers["X-Pagination"])["total"] == 25


def test_task_data_holds_the_records_of_the_last_successful_job(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    add_job(task, records=[{"id": "old"}])
    latest = add_job(task, records=[{"id": "new 1"}, {"id": "new 2"}])
    add_job(task, "failed", error="HTTP 500")

    response = client.get(f"/tasks/{task.id}/data", headers=auth_headers)

    assert response.status_code == 200
    assert [row["payload"] for row in response.json] == [{"id": "new 1"}, {"id": "new 2"}]
    assert {row["job_id"] for row in response.json} == {latest.id}


def test_task_data_is_empty_before_any_success(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    add_job(task, "failed", error="HTTP 404")

    response = client.get(f"/tasks/{task.id}/data", headers=auth_headers)

    assert response.status_code == 200
    assert response.json == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 0


@pytest.mark.parametrize(
    "path", ["/jobs/{job}", "/jobs/{job}/data", "/tasks/{task}/jobs", "/tasks/{task}/data"]
)
def test_returns_404_for_another_users_jobs_and_data(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    path: str,
) -> None:
    task = make_task(owner=make_user("bob"))
    job = add_job(task, records=[{"id": 1}])

    response = client.get(path.format(job=job.id, task=task.id), headers=auth_headers)

    assert response.status_code == 404
    assert set(response.json) == {"code", "status", "message", "errors"}


@pytest.mark.parametrize(
    "path", ["/jobs/{job}", "/jobs/{job}/data", "/tasks/{task}/jobs", "/tasks/{task}/data"]
)
def test_an_admin_reads_another_users_jobs_and_data_with_all(
    client: FlaskClient,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    path: str,
) -> None:
    task = make_task()
    job = add_job(task, records=[{"id": 1}])
    admin = headers_for(make_user("root", role=Role.ADMIN))
    url = path.format(job=job.id, task=task.id)

    assert client.get(url, headers=admin).status_code == 404
    assert client.get(f"{url}?all=1", headers=admin).status_code == 200


@pytest.mark.parametrize(
    "path", ["/jobs/999999", "/jobs/999999/data", "/tasks/999999/jobs", "/tasks/999999/data"]
)
def test_returns_404_for_jobs_and_tasks_that_do_not_exist(
    client: FlaskClient, auth_headers: dict[str, str], path: str
) -> None:
    assert client.get(path, headers=auth_headers).status_code == 404


@pytest.mark.parametrize("path", READ_PATHS)
def test_jobs_and_data_need_a_token(client: FlaskClient, path: str) -> None:
    assert client.get(path.format(job=1, task=1)).status_code == 401


@pytest.mark.parametrize("path", ["/jobs/{job}/data", "/tasks/{task}/jobs", "/tasks/{task}/data"])
def test_a_page_far_past_the_end_is_empty(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    path: str,
) -> None:
    task = make_task()
    job = add_job(task, records=[{"id": 1}])
    url = path.format(job=job.id, task=task.id)

    response = client.get(f"{url}?page={10**18}", headers=auth_headers)

    assert response.status_code == 200
    assert response.json == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 1


def test_records_come_back_exactly_whatever_their_numbers(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    # JSON is read and written through orjson, which would turn integers beyond 64 bits into
    # floats (reading) or refuse them (writing); these must still come back as they were fetched.
    records = [
        {"id": 1, "big": 123456789012345678901234567890, "negative": -(2**63) - 1},
        {"id": 2, "digits": "12345678901234567890123", "nested": [2**64, {"x": None}]},
        {"id": 4, "price": 0.1, "huge": 1.5e308},
        {"id": 3, "name": "caf\u00e9 \u2603", "ratio": 1e-7},
    ]
    task = make_task()
    job = add_job(task, records=records)

    data = client.get(f"/jobs/{job.id}/data", headers=auth_headers)
    status = client.get(f"/tasks/{task.id}/status", headers=auth_headers)

    assert [row["payload"] for row in data.json] == records
    assert status.json["last_execution_data"]["records"] == records
    assert isinstance(status.json["last_execution_data"]["records"][0]["big"], int)
