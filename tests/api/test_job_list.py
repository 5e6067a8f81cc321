"""GET /jobs: the jobs of all of a user's tasks, filtered and paginated (the dead-letter view)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient

from tests.conftest import headers_for
from tests.support.job_rows import add_job
from website.models import Role, Task, User


def ids_of(response: object) -> list[int]:
    return [job["id"] for job in response.json]  # type: ignore[attr-defined]


def test_lists_the_jobs_of_every_task_of_yours_newest_first(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    make_user: Callable[..., User],
) -> None:
    first, second = make_task(name="first"), make_task(name="second")
    jobs = [add_job(first, "succeeded"), add_job(second, "failed"), add_job(first, "lost")]
    add_job(make_task(owner=make_user("bob")), "failed")

    response = client.get("/jobs", headers=auth_headers)

    assert response.status_code == 200
    assert ids_of(response) == [job.id for job in reversed(jobs)]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


def test_the_dead_letter_view_keeps_the_failed_statuses(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    by_status = {
        status: add_job(task, status)
        for status in ("succeeded", "failed", "timed_out", "lost", "cancelled")
    }

    response = client.get("/jobs?status=failed&status=timed_out&status=lost", headers=auth_headers)

    assert ids_of(response) == [by_status[s].id for s in ("lost", "timed_out", "failed")]


def test_filters_by_task(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task, other = make_task(), make_task(name="other")
    job = add_job(task, "failed")
    add_job(other, "failed")

    response = client.get(f"/jobs?task_id={task.id}", headers=auth_headers)

    assert ids_of(response) == [job.id]


def test_filters_by_the_time_jobs_were_queued(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    old = add_job(task, "failed", age=timedelta(days=3))
    recent = add_job(task, "failed", age=timedelta(hours=1))
    cut = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    since = client.get("/jobs", query_string={"since": cut}, headers=auth_headers)
    until = client.get("/jobs", query_string={"until": cut}, headers=auth_headers)

    assert (ids_of(since), ids_of(until)) == ([recent.id], [old.id])


def test_is_paginated(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    jobs = [add_job(task, "failed") for _ in range(5)]

    response = client.get("/jobs?page=2&page_size=2", headers=auth_headers)

    assert ids_of(response) == [jobs[2].id, jobs[1].id]
    pagination = json.loads(response.headers["X-Pagination"])
    assert (pagination["total"], pagination["total_pages"]) == (5, 3)


@pytest.mark.parametrize("scope", ["scope=all", "all=1"])
def test_an_admin_sees_every_users_jobs_with_scope_all(
    client: FlaskClient,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    scope: str,
) -> None:
    admin = make_user("root", role=Role.ADMIN)
    mine = add_job(make_task(owner=admin), "failed")
    theirs = add_job(make_task(owner=make_user("bob")), "failed")

    own = client.get("/jobs", headers=headers_for(admin))
    every = client.get(f"/jobs?{scope}", headers=headers_for(admin))

    assert ids_of(own) == [mine.id]
    assert ids_of(every) == [theirs.id, mine.id]


def test_scope_all_changes_nothing_for_a_user(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
) -> None:
    add_job(make_task(owner=make_user("bob")), "failed")

    response = client.get("/jobs?scope=all", headers=auth_headers)

    assert response.json == []


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=broken", "status"),
        ("task_id=abc", "task_id"),
        ("task_id=0", "task_id"),
        ("task_id=99999999999", "task_id"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("scope=everyone", "scope"),
    ],
)
def test_refuses_bad_filters(
    client: FlaskClient, auth_headers: dict[str, str], query: str, field: str
) -> None:
    response = client.get(f"/jobs?{query}", headers=auth_headers)

    assert response.status_code == 422
    assert field in response.json["errors"]


def test_needs_a_token(client: FlaskClient) -> None:
    assert client.get("/jobs").status_code == 401
