"""The task endpoints: create, list, read, change and delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from tests.conftest import headers_for
from tests.support.examples import ORIGINAL_EXAMPLE_TASK
from tests.support.job_rows import add_job
from website.extensions import db
from website.models import Data, Job, Role, Task, User
from website.schemas.tasks import TaskSchema
from website.services.tasks import list_tasks


def new_task(**overrides: Any) -> dict[str, Any]:
    """A valid creation body that runs from now on."""
    return {
        "name": "feed",
        "url": "https://example.com/feed.json",
        "task_interval": 60,
        **overrides,
    }


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def test_the_original_example_body_creates_a_task(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post("/tasks", json=ORIGINAL_EXAMPLE_TASK, headers=auth_headers)

    assert response.status_code == 201
    task = response.json
    assert isinstance(task["id"], int)
    assert task["name"] == "task1"
    assert task["url"] == ORIGINAL_EXAMPLE_TASK["url"]
    assert task["parameters"] == {}
    assert parse_time(task["start_time"]) == datetime(2023, 1, 4, 21, 41, 38, 930000, UTC)
    assert parse_time(task["end_time"]) == datetime(2023, 12, 4, 21, 41, 38, 930000, UTC)
    assert (task["task_interval"], task["max_execution_time"], task["max_attempt"]) == (100, 0, 10)
    # Its window closed long ago.
    assert task["state"] == "expired"
    assert "next_run_at" in task
    assert response.headers["Location"].endswith(f"/tasks/{task['id']}")


def test_a_new_task_runs_first_at_once_when_its_start_has_passed(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    before = datetime.now(UTC)
    response = client.post("/tasks", json=new_task(), headers=auth_headers)
    after = datetime.now(UTC)

    task = response.json
    assert response.status_code == 201
    assert task["state"] == "active"
    assert before <= parse_time(task["next_run_at"]) <= after
    assert (task["attempt"], task["enabled"], task["priority"]) == (0, True, 5)


def test_a_task_starting_later_is_pending_and_first_runs_at_its_start(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
    response = client.post(
        "/tasks", json=new_task(start_time=start.isoformat()), headers=auth_headers
    )

    assert response.json["state"] == "pending"
    assert parse_time(response.json["next_run_at"]) == start


def test_a_naive_start_time_is_taken_as_utc(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post(
        "/tasks", json=new_task(start_time="2030-05-06T07:08:09"), headers=auth_headers
    )

    assert parse_time(response.json["start_time"]) == datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)


def test_an_offset_start_time_is_converted_to_utc(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post(
        "/tasks", json=new_task(start_time="2030-05-06T07:08:09+02:00"), headers=auth_headers
    )

    assert parse_time(response.json["start_time"]) == datetime(2030, 5, 6, 5, 8, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    "parameters",
    [
        {"query": {"page": 2, "tags": ["a", "b"]}, "headers": {"Accept": "application/json"}},
        json.dumps({"method": "POST", "body": {"since": 5}, "records": "data.items"}),
        {"record_key": "uuid"},
    ],
)
def test_parameters_are_stored_as_an_object_whether_sent_as_object_or_json_string(
    client: FlaskClient, auth_headers: dict[str, str], parameters: Any
) -> None:
    response = client.post("/tasks", json=new_task(parameters=parameters), headers=auth_headers)

    expected = json.loads(parameters) if isinstance(parameters, str) else parameters
    assert response.status_code == 201
    assert response.json["parameters"] == expected
    assert (
        client.get(f"/tasks/{response.json['id']}", headers=auth_headers).json["parameters"]
        == expected
    )


def test_a_task_belongs_to_its_creator_whatever_the_body_says(
    client: FlaskClient, auth_headers: dict[str, str], user: User
) -> None:
    response = client.post("/tasks", json=new_task(), headers=auth_headers)

    assert response.json["owner_id"] == user.id


def test_creating_a_task_needs_a_token(client: FlaskClient) -> None:
    response = client.post("/tasks", json=new_task())

    assert response.status_code == 401
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_get_returns_the_task(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(name="prices")

    response = client.get(f"/tasks/{task.id}", headers=auth_headers)

    assert response.status_code == 200
    assert response.json["id"] == task.id
    assert response.json["name"] == "prices"
    assert response.headers["ETag"]


def test_returns_404_for_a_task_that_does_not_exist(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.get("/tasks/999999", headers=auth_headers)

    assert response.status_code == 404
    assert response.json["message"] == "Task not found"


def test_returns_404_for_an_id_beyond_any_database_integer(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.get(f"/tasks/{2**70}", headers=auth_headers)

    assert response.status_code == 404


def test_returns_404_for_another_users_task(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
) -> None:
    task = make_task(owner=make_user("bob"))

    assert client.get(f"/tasks/{task.id}", headers=auth_headers).status_code == 404
    assert client.patch(f"/tasks/{task.id}", json={}, headers=auth_headers).status_code == 404
    assert client.delete(f"/tasks/{task.id}", headers=auth_headers).status_code == 404
    assert db.session.get(Task, task.id) is not None


def test_an_admin_reaches_another_users_task_only_when_asking_for_all(
    client: FlaskClient, make_user: Callable[..., User], make_task: Callable[..., Task]
) -> None:
    task = make_task(owner=make_user("bob"))
    admin = headers_for(make_user("root", role=Role.ADMIN))

    assert client.get(f"/tasks/{task.id}", headers=admin).status_code == 404
    assert client.get(f"/tasks/{task.id}?all=1", headers=admin).status_code == 200


def test_all_gives_an_ordinary_user_nothing_more(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
) -> None:
    task = make_task(owner=make_user("bob"))

    assert client.get(f"/tasks/{task.id}?all=1", headers=auth_headers).status_code == 404
    assert client.get("/tasks?all=1", headers=auth_headers).json == []


# --- listing ---------------------------------------------------------------------------------


def test_list_holds_only_the_callers_tasks(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
) -> None:
    mine = [make_task(name="one"), make_task(name="two")]
    make_task(owner=make_user("bob"), name="bobs")

    response = client.get("/tasks", headers=auth_headers)

    assert response.status_code == 200
    assert [task["id"] for task in response.json] == [task.id for task in mine]
    assert json.loads(response.headers["X-Pagination"])["total"] == 2


def test_an_admin_lists_every_users_tasks_with_all(
    client: FlaskClient, make_user: Callable[..., User], make_task: Callable[..., Task]
) -> None:
    make_task(name="alices")
    make_task(owner=make_user("bob"), name="bobs")
    admin = headers_for(make_user("root", role=Role.ADMIN))

    assert client.get("/tasks", headers=admin).json == []
    names = {task["name"] for task in client.get("/tasks?all=1", headers=admin).json}
    assert names == {"alices", "bobs"}


def test_list_is_paginated_with_the_x_pagination_header(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    tasks = [make_task(name=f"task {number}") for number in range(5)]

    response = client.get("/tasks?page=2&page_size=2", headers=auth_headers)

    assert [task["id"] for task in response.json] == [tasks[2].id, tasks[3].id]
    assert json.loads(response.headers["X-Pagination"]) == {
        "total": 5,
        "total_pages": 3,
        "first_page": 1,
        "last_page": 3,
        "page": 2,
        "previous_page": 1,
        "next_page": 3,
    }


@pytest.mark.parametrize("query", ["page_size=101", "page_size=0", "page=0", "page=x"])
def test_list_refuses_a_page_out_of_bounds(
    client: FlaskClient, auth_headers: dict[str, str], query: str
) -> None:
    response = client.get(f"/tasks?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert query.split("=")[0] in response.json["errors"]


def test_list_filters_by_part_of_the_name_case_insensitively(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    make_task(name="Weather in Paris")
    make_task(name="weather in Oslo")
    make_task(name="stock prices")

    response = client.get("/tasks?q=WEATHER", headers=auth_headers)

    assert sorted(task["name"] for task in response.json) == ["Weather in Paris", "weather in Oslo"]


@pytest.mark.parametrize(
    ("query", "matching", "not_matching"),
    [
        ("0%25", "100% up", "1000 up"),  # %
        ("a_b", "a_b feed", "axb feed"),  # _
        ("a/_b", "a/_b feed", "a_b feed"),  # the LIKE escape character itself
        ("a%5Cb", "a\\b feed", "ab feed"),  # a backslash
    ],
)
def test_list_name_filter_treats_wildcards_literally(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    query: str,
    matching: str,
    not_matching: str,
) -> None:
    make_task(name=matching)
    make_task(name=not_matching)

    response = client.get(f"/tasks?q={query}", headers=auth_headers)

    assert [task["name"] for task in response.json] == [matching]


def test_list_filters_by_each_state(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    now = datetime.now(UTC)
    expected = {
        "active": make_task(name="active"),
        "pending": make_task(name="pending", start_time=now + timedelta(hours=1)),
        "paused": make_task(name="paused", enabled=False),
        "expired": make_task(
            name="expired", start_time=now - timedelta(hours=2), end_time=now - timedelta(hours=1)
        ),
        "exhausted": make_task(name="exhausted", attempt=3, max_attempt=3),
    }

    for state, task in expected.items():
        response = client.get(f"/tasks?state={state}", headers=auth_headers)
        assert [listed["id"] for listed in response.json] == [task.id], state
        assert response.json[0]["state"] == state


def test_a_listed_task_shows_exactly_what_the_task_itself_shows(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    # A listed task and the task's own GET show the same fields, states and datetime text.
    now = datetime.now(UTC)
    make_task(name="active", parameters={"query": {"page": 2}, "headers": {"X-Key": "v"}})
    make_task(name="pending", start_time=now + timedelta(hours=1), end_time=None)
    make_task(name="paused", enabled=False, priority=9)
    make_task(
        name="expired", start_time=now - timedelta(hours=2), end_time=now - timedelta(hours=1)
    )
    ran = make_task(name="exhausted", attempt=3, max_attempt=3)
    add_job(ran, "failed", error="HTTP 500")
    ran.last_execute_time, ran.last_execution_status = now, "failed"
    make_task(name="on the second", start_time=now.replace(microsecond=0) - timedelta(hours=3))
    db.session.commit()
    # A value stored by hand in another form than SQLAlchemy's (no fraction of a second).
    by_hand = (
        "2026-01-02 03:04:05" if db.engine.dialect.name == "sqlite" else "2026-01-02 03:04:05+00"
    )
    db.session.execute(
        text("UPDATE tasks SET created_at = :at WHERE id = :id"), {"at": by_hand, "id": ran.id}
    )
    db.session.commit()

    listed = client.get("/tasks", headers=auth_headers).json

    assert len(listed) == 6
    assert {task["created_at"] for task in listed if task["id"] == ran.id} == {
        "2026-01-02T03:04:05+00:00"
    }
    for task in listed:
        assert task == client.get(f"/tasks/{task['id']}", headers=auth_headers).json


def test_a_task_and_a_listed_task_are_dumped_exactly_as_marshmallow_dumps_them(
    make_task: Callable[..., Task],
) -> None:
    now = datetime.now(UTC)
    tasks = [
        make_task(name="bare"),
        make_task(
            name="full",
            parameters={"query": {"page": 2, "ratio": 0.5}, "headers": {"X-Key": "v"}},
            start_time=now.replace(microsecond=0),
            end_time=now + timedelta(days=1),
            enabled=False,
        ),
        make_task(name="exhausted", attempt=3, max_attempt=3),
    ]
    add_job(tasks[1], "failed", error="HTTP 500")
    listed, _ = list_tasks(None, page=1, page_size=10)
    schema = TaskSchema(many=True)

    assert schema.dump(tasks) == ma.Schema.dump(schema, tasks)
    assert schema.dump(listed) == ma.Schema.dump(schema, listed)
    assert TaskSchema().dump(tasks[1]) == ma.Schema.dump(TaskSchema(), tasks[1])


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["alpha", "bravo", "charlie"]),
        ("-name", ["charlie", "bravo", "alpha"]),
        ("priority", ["charlie", "alpha", "bravo"]),
        ("-priority", ["bravo", "alpha", "charlie"]),
        ("-id", ["charlie", "alpha", "bravo"]),
    ],
)
def test_list_sorts_by_the_requested_key(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    sort: str,
    expected: list[str],
) -> None:
    make_task(name="bravo", priority=9)
    make_task(name="alpha", priority=5)
    make_task(name="charlie", priority=0)

    response = client.get(f"/tasks?sort={sort}", headers=auth_headers)

    assert [task["name"] for task in response.json] == expected


@pytest.mark.parametrize(
    ("query", "field"),
    [("state=sleeping", "state"), ("sort=owner_id", "sort"), ("q=", "q")],
)
def test_list_refuses_unknown_filters_and_sort_keys(
    client: FlaskClient, auth_headers: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/tasks?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]


# --- changing ------------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(name="old", priority=5)

    response = client.patch(
        f"/tasks/{task.id}", json={"name": "new", "priority": 8}, headers=auth_headers
    )

    assert response.status_code == 200
    assert (response.json["name"], response.json["priority"]) == ("new", 8)
    assert response.json["url"] == task.url
    assert client.get(f"/tasks/{task.id}", headers=auth_headers).json["name"] == "new"


def test_patch_of_the_interval_moves_the_next_run_onto_the_new_grid(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1000)
    task = make_task(start_time=start, task_interval=3600)
    task.last_execute_time = start + timedelta(seconds=900)
    task.next_run_at = start + timedelta(seconds=3600)
    db.session.commit()

    response = client.patch(f"/tasks/{task.id}", json={"task_interval": 600}, headers=auth_headers)

    # The grid is start + k * 600; the slot after the last run (at +900 s) is +1200 s.
    assert parse_time(response.json["next_run_at"]) == start + timedelta(seconds=1200)


def test_patch_of_the_interval_runs_a_slot_missed_under_the_new_grid_at_once(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    start = datetime.now(UTC) - timedelta(seconds=1000)
    task = make_task(start_time=start, task_interval=3600)
    task.last_execute_time = start + timedelta(seconds=10)
    task.next_run_at = start + timedelta(seconds=3600)
    db.session.commit()

    before = datetime.now(UTC)
    response = client.patch(f"/tasks/{task.id}", json={"task_interval": 60}, headers=auth_headers)

    assert before <= parse_time(response.json["next_run_at"]) <= datetime.now(UTC)


def test_patch_of_the_url_fetches_it_at_once(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(task_interval=3600)
    task.last_execute_time = datetime.now(UTC)
    task.next_run_at = datetime.now(UTC) + timedelta(hours=1)
    db.session.commit()

    before = datetime.now(UTC)
    response = client.patch(
        f"/tasks/{task.id}", json={"url": "https://example.org/other.json"}, headers=auth_headers
    )

    assert response.json["url"] == "https://example.org/other.json"
    assert before <= parse_time(response.json["next_run_at"]) <= datetime.now(UTC)


def test_patch_of_the_start_into_the_future_waits_for_it(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)

    response = client.patch(
        f"/tasks/{task.id}", json={"start_time": start.isoformat()}, headers=auth_headers
    )

    assert response.json["state"] == "pending"
    assert parse_time(response.json["next_run_at"]) == start


def test_patch_of_the_name_leaves_the_schedule_alone(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    next_run_at = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=5)
    task.next_run_at = next_run_at
    db.session.commit()

    response = client.patch(f"/tasks/{task.id}", json={"name": "renamed"}, headers=auth_headers)

    assert parse_time(response.json["next_run_at"]) == next_run_at


def test_patch_can_clear_the_end_time(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(end_time=datetime.now(UTC) + timedelta(days=1))

    response = client.patch(f"/tasks/{task.id}", json={"end_time": None}, headers=auth_headers)

    assert response.json["end_time"] is None


def test_patch_checks_the_window_against_the_stored_start(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(start_time=datetime(2030, 1, 1, tzinfo=UTC))

    response = client.patch(
        f"/tasks/{task.id}", json={"end_time": "2029-01-01T00:00:00Z"}, headers=auth_headers
    )

    assert response.status_code == 422
    assert "end_time" in response.json["errors"]
    assert db.session.get(Task, task.id).end_time is None


def test_patch_with_the_current_etag_succeeds_and_returns_a_new_one(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    etag = client.get(f"/tasks/{task.id}", headers=auth_headers).headers["ETag"]

    response = client.patch(
        f"/tasks/{task.id}", json={"name": "renamed"}, headers={**auth_headers, "If-Match": etag}
    )

    assert response.status_code == 200
    assert response.headers["ETag"] != etag
    assert (
        client.get(f"/tasks/{task.id}", headers=auth_headers).headers["ETag"]
        == (response.headers["ETag"])
    )


def test_patch_with_a_stale_etag_is_refused_with_412_and_changes_nothing(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(name="original")
    stale = client.get(f"/tasks/{task.id}", headers=auth_headers).headers["ETag"]
    client.patch(f"/tasks/{task.id}", json={"name": "someone else's"}, headers=auth_headers)

    response = client.patch(
        f"/tasks/{task.id}", json={"name": "mine"}, headers={**auth_headers, "If-Match": stale}
    )

    assert response.status_code == 412
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert client.get(f"/tasks/{task.id}", headers=auth_headers).json["name"] == "someone else's"


def test_get_answers_304_to_the_current_etag(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    etag = client.get(f"/tasks/{task.id}", headers=auth_headers).headers["ETag"]

    response = client.get(f"/tasks/{task.id}", headers={**auth_headers, "If-None-Match": etag})

    assert response.status_code == 304


def test_patch_with_an_empty_body_changes_nothing(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task(name="same")

    response = client.patch(f"/tasks/{task.id}", json={}, headers=auth_headers)

    assert response.status_code == 200
    assert response.json["name"] == "same"


# --- deleting ------------------------------------------------------------------------------------


def test_delete_removes_the_task_with_its_jobs_and_data(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    job = add_job(task, records=[{"id": 1}, {"id": 2}])
    task_id, job_id = task.id, job.id

    response = client.delete(f"/tasks/{task_id}", headers=auth_headers)

    assert response.status_code == 204
    assert response.data == b""
    db.session.expire_all()
    assert db.session.get(Task, task_id) is None
    assert db.session.get(Job, job_id) is None
    assert db.session.query(Data).filter_by(task_id=task_id).count() == 0
    assert client.get(f"/tasks/{task_id}", headers=auth_headers).status_code == 404


def test_delete_with_a_stale_etag_is_refused_with_412(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    stale = client.get(f"/tasks/{task.id}", headers=auth_headers).headers["ETag"]
    client.patch(f"/tasks/{task.id}", json={"priority": 1}, headers=auth_headers)

    response = client.delete(f"/tasks/{task.id}", headers={**auth_headers, "If-Match": stale})

    assert response.status_code == 412
    assert client.get(f"/tasks/{task.id}", headers=auth_headers).status_code == 200


def test_delete_with_the_current_etag_succeeds(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    etag = client.get(f"/tasks/{task.id}", headers=auth_headers).headers["ETag"]

    response = client.delete(f"/tasks/{task.id}", headers={**auth_headers, "If-Match": etag})

    assert response.status_code == 204


def test_a_page_far_past_the_end_is_empty(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    make_task()

    response = client.get(f"/tasks?page={10**18}&page_size=100", headers=auth_headers)

    assert response.status_code == 200
    assert response.json == []
    assert json.loads(response.headers["X-Pagination"])["total"] == 1


def test_reading_tasks_does_not_wait_for_a_writer_holding_the_task(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
) -> None:
    task_id = make_task().id
    db.session.commit()
    # A worker in the middle of storing a job: SQLite's write lock, PostgreSQL's row lock.
    with db.engine.connect() as writer:
        transaction = writer.begin()
        writer.execute(text("UPDATE tasks SET name = name WHERE id = :id"), {"id": task_id})
        try:
            responses = [
                client.get(f"/tasks/{task_id}", headers=auth_headers),
                client.get("/tasks", headers=auth_headers),
                client.get(f"/tasks/{task_id}/status", headers=auth_headers),
            ]
        finally:
            transaction.rollback()

    assert [response.status_code for response in responses] == [200, 200, 200]


def test_delete_of_a_task_with_a_running_job_removes_it_at_once(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    running = add_job(task, "running")
    task_id, job_id = task.id, running.id

    response = client.delete(f"/tasks/{task_id}", headers=auth_headers)

    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.get(Job, job_id) is None
    assert client.get(f"/jobs/{job_id}", headers=auth_headers).status_code == 404
