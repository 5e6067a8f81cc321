"""POST /tasks/reset-attempt: many tasks revived at once, by id or every exhausted one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import headers_for
from tests.support.rows import set_task, task_row
from website.models import Role, Task, TaskState, User


def exhausted(make_task: Callable[..., Task], **values: Any) -> Task:
    task = make_task(**values)
    set_task(task.id, attempt=task.max_attempt, next_run_at=None)
    return task


def test_resets_every_exhausted_task_of_yours(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    make_user: Callable[..., User],
) -> None:
    dead = [exhausted(make_task, name=f"dead{n}") for n in range(3)]
    failing = make_task(name="failing")
    set_task(failing.id, attempt=1)
    theirs = exhausted(make_task, owner=make_user("bob"))

    response = client.post(
        "/tasks/reset-attempt", json={"state": "exhausted"}, headers=auth_headers
    )

    assert response.status_code == 200
    assert response.json == {"count": 3, "ids": [task.id for task in dead]}
    for task in dead:
        revived = task_row(task.id)
        assert (revived.attempt, revived.state) == (0, TaskState.ACTIVE)
        assert revived.next_run_at is not None
    assert task_row(failing.id).attempt == 1
    assert task_row(theirs.id).state == TaskState.EXHAUSTED


def test_resets_the_tasks_named_by_id(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    first, second, third = (exhausted(make_task, name=f"t{n}") for n in range(3))
    later = datetime.now(UTC) + timedelta(hours=1)
    pending = make_task(name="pending", start_time=later)
    set_task(pending.id, attempt=2)

    response = client.post(
        "/tasks/reset-attempt",
        json={"ids": [third.id, first.id, pending.id, first.id]},
        headers=auth_headers,
    )

    assert response.json == {"count": 3, "ids": sorted([first.id, third.id, pending.id])}
    assert task_row(second.id).state == TaskState.EXHAUSTED
    assert task_row(first.id).attempt == 0
    # The single reset's rule: the next run at once, or at start_time when that is later.
    assert task_row(pending.id).next_run_at == later


def test_nothing_to_reset_answers_zero(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    make_task()

    response = client.post(
        "/tasks/reset-attempt", json={"state": "exhausted"}, headers=auth_headers
    )

    assert response.json == {"count": 0, "ids": []}


def test_an_id_not_among_yours_is_a_404_naming_it_and_resets_nothing(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    make_user: Callable[..., User],
) -> None:
    mine = exhausted(make_task)
    theirs = exhausted(make_task, owner=make_user("bob"))

    response = client.post(
        "/tasks/reset-attempt", json={"ids": [mine.id, theirs.id, 999]}, headers=auth_headers
    )

    assert response.status_code == 404
    assert response.json["message"] == f"Tasks not found: {theirs.id}, 999"
    assert response.json["errors"] == {"ids": [f"No such task among yours: {theirs.id}, 999."]}
    assert task_row(mine.id).state == TaskState.EXHAUSTED
    assert task_row(theirs.id).state == TaskState.EXHAUSTED


def test_an_admin_resets_every_users_tasks_with_all(
    client: FlaskClient, make_user: Callable[..., User], make_task: Callable[..., Task]
) -> None:
    admin = headers_for(make_user("root", role=Role.ADMIN))
    theirs = exhausted(make_task, owner=make_user("bob"))

    own = client.post("/tasks/reset-attempt", json={"state": "exhausted"}, headers=admin)
    every = client.post("/tasks/reset-attempt?all=1", json={"ids": [theirs.id]}, headers=admin)

    assert own.json == {"count": 0, "ids": []}
    assert every.json == {"count": 1, "ids": [theirs.id]}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "_schema"),
        ({"ids": [1], "state": "exhausted"}, "_schema"),
        ({"ids": []}, "ids"),
        ({"ids": ["1"]}, "ids"),
        ({"ids": [0]}, "ids"),
        ({"ids": [2**31]}, "ids"),
        ({"ids": list(range(1, 1002))}, "ids"),
        ({"ids": 1}, "ids"),
        ({"state": "paused"}, "state"),
        ({"state": "exhausted", "owner_id": 2}, "owner_id"),
    ],
)
def test_refuses_a_bad_body(
    client: FlaskClient, auth_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = client.post("/tasks/reset-attempt", json=body, headers=auth_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]


def test_needs_a_token(client: FlaskClient) -> None:
    response = client.post("/tasks/reset-attempt", json={"state": "exhausted"})

    assert response.status_code == 401
