"""POST /tasks/batch: many tasks at once, all or nothing by default, or partially."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import headers_for
from tests.support.examples import ORIGINAL_EXAMPLE_TASK
from tests.support.rows import jobs_of
from website.extensions import db
from website.models import Task, User
from website.services.scheduler import tick

ERROR_KEYS = {"code", "status", "message", "errors"}


def new_task(number: int = 0, **overrides: Any) -> dict[str, Any]:
    """A valid creation body that runs from now on."""
    return {
        "name": f"feed {number}",
        "url": f"https://example.com/feed/{number}.json",
        "task_interval": 60,
        **overrides,
    }


def realistic_task(number: int) -> dict[str, Any]:
    """A task body as a client would send it, with parameters for its request and records."""
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=number)
    return {
        "name": f"event feed {number} of the sales meetings",
        "url": f"https://api.example.com/v2/events/{number}/attendees.json",
        "parameters": {
            "query": {"page": 1, "per_page": 100, "status": ["confirmed", "waitlisted"]},
            "headers": {"Accept": "application/json", "X-Api-Key": "k" * 32},
            "records": "data.attendees",
            "record_key": "attendee_id",
        },
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(days=365)).isoformat(),
        "task_interval": 300,
        "max_execution_time": 30,
        "max_attempt": 5,
        "priority": 7,
    }


def task_count(owner_id: int | None = None) -> int:
    query = select(func.count(Task.id))
    if owner_id is not None:
        query = query.where(Task.owner_id == owner_id)
    return db.session.scalar(query) or 0


def test_a_batch_creates_every_task_in_order_and_answers_their_ids(
    client: FlaskClient, auth_headers: dict[str, str], user: User
) -> None:
    bodies = [new_task(number) for number in range(3)] + [ORIGINAL_EXAMPLE_TASK]

    response = client.post("/tasks/batch", json={"tasks": bodies}, headers=auth_headers)

    assert response.status_code == 200, response.json
    assert response.json["created"] == 4
    assert response.json["refused"] == 0
    results = response.json["results"]
    assert [result["index"] for result in results] == [0, 1, 2, 3]
    assert all(set(result) == {"index", "id"} for result in results)
    for result, body in zip(results, bodies, strict=True):
        shown = client.get(f"/tasks/{result['id']}", headers=auth_headers).json
        assert shown["name"] == body["name"]
        assert shown["owner_id"] == user.id
    seed = client.get(f"/tasks/{results[3]['id']}", headers=auth_headers).json
    assert seed["parameters"] == {}
    assert seed["max_attempt"] == ORIGINAL_EXAMPLE_TASK["max_attempt"]


def test_batch_created_tasks_are_scheduled_like_single_ones(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)
    bodies = [new_task(0), new_task(1, start_time=later.isoformat())]

    before = datetime.now(UTC)
    response = client.post("/tasks/batch", json={"tasks": bodies}, headers=auth_headers)

    now_id, later_id = (result["id"] for result in response.json["results"])
    started = client.get(f"/tasks/{now_id}", headers=auth_headers).json
    pending = client.get(f"/tasks/{later_id}", headers=auth_headers).json
    assert datetime.fromisoformat(started["next_run_at"]) >= before - timedelta(seconds=1)
    assert datetime.fromisoformat(started["next_run_at"]) <= datetime.now(UTC)
    assert started["state"] == "active"
    assert datetime.fromisoformat(pending["next_run_at"]) == later
    assert pending["state"] == "pending"

    report = tick()  # the scheduler dispatches the one that is due, and only it

    assert [message.task_id for message in report.dispatched] == [now_id]
    assert [job.status for job in jobs_of(now_id)] == ["queued"]
    assert jobs_of(later_id) == []


def test_one_invalid_item_refuses_the_whole_batch_naming_it_by_index(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    bodies = [new_task(number) for number in range(5)]
    bodies[3]["url"] = "ftp://example.com/feed"

    response = client.post("/tasks/batch", json={"tasks": bodies}, headers=auth_headers)

    assert response.status_code == 422
    assert set(response.json) == ERROR_KEYS
    assert set(response.json["errors"]["tasks"]) == {"3"}
    assert set(response.json["errors"]["tasks"]["3"]) == {"url"}
    assert "index 3" in response.json["message"]
    assert task_count() == 0


def test_an_item_is_refused_with_exactly_the_messages_post_tasks_gives(
    client: FlaskClient, auth_headers: dict[str, str], app: Flask
) -> None:
    app.config["FETCH_ALLOW_PRIVATE"] = False
    bad_bodies = [
        new_task(url="ftp://example.com/feed"),  # schema
        new_task(task_interval=0, priority=12, surprise=True),  # schema, several fields
        new_task(url="http://127.0.0.1:8000/feed"),  # the URL's safety check
        new_task(end_time="2020-01-01T00:00:00Z", start_time="2021-01-01T00:00:00Z"),  # window
        new_task(parameters={"headers": {"Host": "x"}}),
        {"name": "no url nor interval"},
        "not an object",
        [new_task()],
        None,
    ]
    singles = [
        client.post(
            "/tasks", data=json.dumps(body), content_type="application/json", headers=auth_headers
        )
        for body in bad_bodies
    ]
    assert all(single.status_code == 422 for single in singles)

    response = client.post("/tasks/batch", json={"tasks": bad_bodies}, headers=auth_headers)

    assert response.status_code == 422
    errors = response.json["errors"]["tasks"]
    for index, single in enumerate(singles):
        assert errors[str(index)] == single.json["errors"], bad_bodies[index]
    assert task_count() == 0


def test_partial_mode_stores_the_valid_items_and_answers_each_one(
    client: FlaskClient, auth_headers: dict[str, str], user: User
) -> None:
    bodies = [new_task(0), new_task(1, task_interval="often"), new_task(2), 42]

    response = client.post(
        "/tasks/batch?mode=partial", json={"tasks": bodies}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json["created"] == 2
    assert response.json["refused"] == 2
    first, second, third, fourth = response.json["results"]
    assert set(first) == {"index", "id"}
    assert set(third) == {"index", "id"}
    assert second["index"] == 1
    assert set(second["errors"]) == {"task_interval"}
    assert fourth == {"index": 3, "errors": {"_schema": ["Invalid input type."]}}
    names = {
        client.get(f"/tasks/{r['id']}", headers=auth_headers).json["name"] for r in (first, third)
    }
    assert names == {"feed 0", "feed 2"}
    assert task_count(user.id) == 2


def test_partial_mode_with_nothing_valid_stores_nothing(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post(
        "/tasks/batch?mode=partial", json={"tasks": [{}, {"name": ""}]}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json["created"] == 0
    assert [set(result) for result in response.json["results"]] == [{"index", "errors"}] * 2
    assert task_count() == 0


@pytest.mark.parametrize("mode", ["all", "partial"])
def test_a_batch_that_would_cross_the_task_cap_is_refused_whole(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    user: User,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    mode: str,
) -> None:
    app.config["MAX_TASKS_PER_USER"] = 5
    make_task(owner=make_user("bob"))  # other users' tasks do not count
    make_task()
    make_task()

    too_many = client.post(
        f"/tasks/batch?mode={mode}",
        json={"tasks": [new_task(number) for number in range(4)]},
        headers=auth_headers,
    )

    assert too_many.status_code == 422
    assert set(too_many.json["errors"]) == {"tasks"}
    assert "at most 5" in too_many.json["message"]
    assert "room for 3" in too_many.json["errors"]["tasks"][0]
    assert task_count(user.id) == 2
    just_enough = client.post(
        f"/tasks/batch?mode={mode}",
        json={"tasks": [new_task(number) for number in range(3)]},
        headers=auth_headers,
    )
    assert just_enough.status_code == 200
    assert task_count(user.id) == 5


def test_a_batch_over_max_batch_is_refused_naming_the_limit(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    app.config["MAX_BATCH"] = 3

    response = client.post(
        "/tasks/batch?mode=partial",
        json={"tasks": [new_task(number) for number in range(4)]},
        headers=auth_headers,
    )

    assert response.status_code == 422
    assert "at most 3" in response.json["message"]
    assert "MAX_BATCH" in response.json["message"]
    assert task_count() == 0


def test_five_hundred_realistic_tasks_fit_in_one_request_by_default(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], user: User
) -> None:
    bodies = [realistic_task(number) for number in range(app.config["MAX_BATCH"])]
    assert len(bodies) == 500
    body = json.dumps({"tasks": bodies})
    assert len(body) < app.config["MAX_CONTENT_LENGTH"]

    response = client.post(
        "/tasks/batch", data=body, content_type="application/json", headers=auth_headers
    )

    assert response.status_code == 200, response.json
    assert response.json["created"] == 500
    assert task_count(user.id) == 500


@pytest.mark.parametrize(
    "body",
    [{}, {"tasks": []}, {"tasks": {"0": {}}}, {"tasks": "many"}, {"tasks": None}, [], {"x": 1}],
)
def test_a_batch_without_a_list_of_tasks_is_a_clear_422(
    client: FlaskClient, auth_headers: dict[str, str], body: Any
) -> None:
    response = client.post("/tasks/batch", json=body, headers=auth_headers)

    assert response.status_code == 422
    assert set(response.json) == ERROR_KEYS
    assert response.json["errors"]
    assert task_count() == 0


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([], "Send at least one task."),
        ("many", "Must be a list of task bodies (objects)."),
        ({"0": {}}, "Must be a list of task bodies (objects)."),
    ],
)
def test_a_batch_says_what_is_wrong_with_its_tasks(
    client: FlaskClient, auth_headers: dict[str, str], tasks: Any, message: str
) -> None:
    response = client.post("/tasks/batch", json={"tasks": tasks}, headers=auth_headers)

    assert response.status_code == 422
    assert response.json["errors"] == {"tasks": [message]}


def test_an_unknown_mode_is_a_422(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    response = client.post(
        "/tasks/batch?mode=some", json={"tasks": [new_task()]}, headers=auth_headers
    )

    assert response.status_code == 422
    assert set(response.json["errors"]) == {"mode"}


def test_a_batch_needs_a_token(client: FlaskClient) -> None:
    assert client.post("/tasks/batch", json={"tasks": [new_task()]}).status_code == 401


def test_another_user_sees_none_of_the_batch(
    client: FlaskClient, auth_headers: dict[str, str], make_user: Callable[..., User]
) -> None:
    response = client.post(
        "/tasks/batch", json={"tasks": [new_task(0), new_task(1)]}, headers=auth_headers
    )
    bob = headers_for(make_user("bob"))

    assert client.get("/tasks", headers=bob).json == []
    for result in response.json["results"]:
        assert client.get(f"/tasks/{result['id']}", headers=bob).status_code == 404
    assert len(client.get("/tasks", headers=auth_headers).json) == 2
