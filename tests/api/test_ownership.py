"""Ownership: another user's task, jobs and data are a 404 and stay untouched; admins opt in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import headers_for
from tests.support.job_rows import add_job
from website.extensions import db
from website.models import Data, Job, Role, Task, User

MISSING_ID = 987_654  # no row has this id in a test's fresh tables
RECORDS = [{"id": 1, "name": "first"}, {"id": 2, "name": "second"}]


@dataclass(frozen=True)
class AliceRows:
    task_id: int
    job_id: int


@pytest.fixture
def alice_rows(user: User, make_task: Callable[..., Task]) -> AliceRows:
    """Alice's task with one succeeded job and its records."""
    task = make_task(name="alice's task")
    job = add_job(task, records=RECORDS, http_status=200)
    return AliceRows(task_id=task.id, job_id=job.id)


@pytest.fixture
def bob(make_user: Callable[..., User]) -> User:
    return make_user("bob")


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user("root", role=Role.ADMIN)


def snapshot(rows: AliceRows) -> dict[str, Any]:
    """Everything a request could have changed about Alice's rows."""
    db.session.expire_all()
    task = db.session.get(Task, rows.task_id)
    columns = {c.key: getattr(task, c.key) for c in Task.__table__.columns} if task else None
    jobs = db.session.scalars(select(Job).where(Job.task_id == rows.task_id)).all()
    data_count = db.session.scalar(
        select(func.count()).select_from(Data).where(Data.task_id == rows.task_id)
    )
    return {
        "task": columns,
        "jobs": [(job.id, job.status, job.attempt) for job in jobs],
        "data": data_count,
    }


# (method, path, JSON body, the owner's success status): every route that reaches a task or job.
OWNED_ROUTES = [
    ("get", "/tasks/{task}", None, 200),
    ("get", "/tasks/{task}/status", None, 200),
    ("get", "/tasks/{task}/jobs", None, 200),
    ("get", "/tasks/{task}/data", None, 200),
    ("get", "/jobs/{job}", None, 200),
    ("get", "/jobs/{job}/data", None, 200),
    ("patch", "/tasks/{task}", {"name": "taken over"}, 200),
    ("post", "/tasks/{task}/pause", None, 200),
    ("post", "/tasks/{task}/resume", None, 200),
    ("post", "/tasks/{task}/reset-attempt", None, 200),
    ("post", "/tasks/{task}/run", None, 202),
    ("post", "/jobs/{job}/cancel", None, 409),  # Alice's job has finished
    ("post", "/tasks/{task}/cancel", None, 409),  # and her task has no unfinished one
    ("delete", "/tasks/{task}", None, 204),
]
ROUTE_IDS = [f"{method.upper()} {path}" for method, path, _body, _status in OWNED_ROUTES]


def call(
    client: FlaskClient,
    method: str,
    path: str,
    rows: AliceRows,
    headers: dict[str, str],
    body: Any = None,
    query: str = "",
) -> Any:
    url = path.format(task=rows.task_id, job=rows.job_id) + query
    return getattr(client, method)(url, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "owner_status"), OWNED_ROUTES, ids=ROUTE_IDS)
def test_another_users_task_jobs_and_data_are_a_404_and_stay_unchanged(
    client: FlaskClient,
    user: User,
    bob: User,
    alice_rows: AliceRows,
    method: str,
    path: str,
    body: Any,
    owner_status: int,
) -> None:
    before = snapshot(alice_rows)
    response = call(client, method, path, alice_rows, headers_for(bob), body)
    assert response.status_code == 404
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert snapshot(alice_rows) == before
    # The route exists and Alice reaches it: Bob's 404 is about ownership.
    assert call(client, method, path, alice_rows, headers_for(user), body).status_code == (
        owner_status
    )


@pytest.mark.parametrize(("method", "path", "body", "owner_status"), OWNED_ROUTES, ids=ROUTE_IDS)
def test_all_1_gives_a_non_admin_nothing_more(
    client: FlaskClient,
    bob: User,
    alice_rows: AliceRows,
    method: str,
    path: str,
    body: Any,
    owner_status: int,
) -> None:
    before = snapshot(alice_rows)
    response = call(client, method, path, alice_rows, headers_for(bob), body, query="?all=1")
    assert response.status_code == 404
    assert snapshot(alice_rows) == before


@pytest.mark.parametrize(
    "path",
    ["/tasks/{id}", "/tasks/{id}/status", "/tasks/{id}/jobs", "/jobs/{id}", "/jobs/{id}/data"],
)
def test_another_users_object_looks_exactly_like_a_missing_one(
    client: FlaskClient, bob: User, alice_rows: AliceRows, path: str
) -> None:
    real_id = alice_rows.job_id if path.startswith("/jobs") else alice_rows.task_id
    theirs = client.get(path.format(id=real_id), headers=headers_for(bob))
    missing = client.get(path.format(id=MISSING_ID), headers=headers_for(bob))
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json["message"].replace(str(real_id), "N") == missing.json["message"].replace(
        str(MISSING_ID), "N"
    )


def test_task_lists_hold_only_the_callers_tasks(
    client: FlaskClient,
    user: User,
    bob: User,
    alice_rows: AliceRows,
    make_task: Callable[..., Task],
) -> None:
    bobs = make_task(owner=bob, name="bob's task")
    for query in ("", "?all=1"):
        listed = client.get(f"/tasks{query}", headers=headers_for(bob)).json
        assert [task["id"] for task in listed] == [bobs.id]
    alices = client.get("/tasks", headers=headers_for(user)).json
    assert [task["id"] for task in alices] == [alice_rows.task_id]


def test_an_admin_sees_every_users_tasks_only_when_asking_with_all_1(
    client: FlaskClient,
    admin: User,
    bob: User,
    alice_rows: AliceRows,
    make_task: Callable[..., Task],
) -> None:
    bobs = make_task(owner=bob, name="bob's task")
    headers = headers_for(admin)
    assert client.get("/tasks", headers=headers).json == []
    everyone = client.get("/tasks?all=1", headers=headers).json
    assert {task["id"] for task in everyone} == {alice_rows.task_id, bobs.id}


@pytest.mark.parametrize(
    "path", ["/tasks/{task}", "/tasks/{task}/jobs", "/tasks/{task}/data", "/jobs/{job}/data"]
)
def test_an_admin_reaches_another_users_objects_only_with_all_1(
    client: FlaskClient, admin: User, alice_rows: AliceRows, path: str
) -> None:
    headers = headers_for(admin)
    assert call(client, "get", path, alice_rows, headers).status_code == 404
    assert call(client, "get", path, alice_rows, headers, query="?all=1").status_code == 200


def test_the_owner_sees_their_jobs_and_records(
    client: FlaskClient, user: User, alice_rows: AliceRows
) -> None:
    headers = headers_for(user)
    jobs = call(client, "get", "/tasks/{task}/jobs", alice_rows, headers).json
    data = call(client, "get", "/jobs/{job}/data", alice_rows, headers).json
    assert [job["id"] for job in jobs] == [alice_rows.job_id]
    assert [row["payload"] for row in data] == RECORDS


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"owner_id": 1}, id="owner_id"),
        pytest.param({"id": 42}, id="id"),
        pytest.param({"attempt": 0}, id="attempt"),
        pytest.param({"last_execution_status": "succeeded"}, id="last_execution_status"),
    ],
)
def test_creating_a_task_rejects_mass_assignment_with_422(
    client: FlaskClient, user: User, bob: User, extra: dict[str, Any]
) -> None:
    body = {"name": "sneaky", "url": "http://127.0.0.1:9/feed", "task_interval": 60, **extra}
    response = client.post("/tasks", json=body, headers=headers_for(bob))
    assert response.status_code == 422
    assert set(extra) <= set(response.json["errors"])
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"owner_id": 999}, id="owner_id"),
        pytest.param({"id": 42}, id="id"),
        pytest.param({"attempt": 0}, id="attempt"),
        pytest.param({"role": "admin"}, id="role"),
    ],
)
def test_changing_a_task_rejects_mass_assignment_with_422(
    client: FlaskClient, user: User, alice_rows: AliceRows, extra: dict[str, Any]
) -> None:
    before = snapshot(alice_rows)
    response = call(
        client,
        "patch",
        "/tasks/{task}",
        alice_rows,
        headers_for(user),
        {"name": "renamed", **extra},
    )
    assert response.status_code == 422
    assert set(extra) <= set(response.json["errors"])
    assert snapshot(alice_rows) == before
