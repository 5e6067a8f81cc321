"""GET /stats and `challenge stats`: task states, job outcomes and execution times per user."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask.testing import FlaskClient, FlaskCliRunner

from cli.stats import stats_command
from tests.conftest import headers_for
from tests.support.rows import set_task
from website.extensions import db
from website.models import Job, JobStatus, Role, Task, User

HOUR = 3600


def add_job(
    task: Task, status: JobStatus, duration: float | None = None, age: timedelta = timedelta(0)
) -> None:
    """A job of ``task`` queued ``age`` ago."""
    queued_at = datetime.now(UTC) - age
    number = db.session.query(Job).filter_by(task_id=task.id).count()
    db.session.add(
        Job(
            task_id=task.id,
            scheduled_for=queued_at - timedelta(microseconds=number),
            queued_at=queued_at,
            status=status,
            duration=duration,
        )
    )
    db.session.commit()


def test_stats_count_only_the_callers_tasks_and_jobs(
    client: FlaskClient, make_user: Callable[..., User], make_task: Callable[..., Task]
) -> None:
    alice, bob = make_user("ann"), make_user("bob")
    paused = make_task(owner=alice, enabled=False)
    make_task(owner=alice)
    done = make_task(owner=alice, task_interval=None)  # a one-off task whose run succeeded
    set_task(done.id, last_execution_status=JobStatus.SUCCEEDED, next_run_at=None)
    add_job(paused, JobStatus.SUCCEEDED, 1.0)
    add_job(make_task(owner=bob), JobStatus.FAILED, 2.0)

    response = client.get("/stats", headers=headers_for(alice))

    assert response.status_code == 200
    body = response.json
    assert body["scope"] == "user"
    assert body["user_id"] == alice.id
    assert body["tasks"]["total"] == 3
    assert body["tasks"]["by_state"] == {
        "pending": 0,
        "active": 1,
        "paused": 1,
        "exhausted": 0,
        "expired": 0,
        "completed": 1,
    }
    assert body["jobs"]["total"] == 1
    assert body["jobs"]["by_status"]["succeeded"] == 1
    assert body["jobs"]["by_status"]["failed"] == 0
    assert body["jobs"]["success_rate"] == 1.0


def test_success_rate_and_execution_times_cover_the_jobs_of_the_window(
    client: FlaskClient, user: User, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    for seconds in range(1, 21):  # 1 s .. 20 s: mean 10.5, p95 (nearest rank 19 of 20) = 19
        add_job(task, JobStatus.SUCCEEDED if seconds <= 15 else JobStatus.FAILED, float(seconds))
    add_job(task, JobStatus.LOST)  # a failure without a duration
    add_job(task, JobStatus.CANCELLED)  # neither a success nor a failure
    add_job(task, JobStatus.FAILED, 500.0, age=timedelta(hours=2))  # before the window

    body = client.get("/stats?window=3600", headers=auth_headers).json

    assert body["window_seconds"] == HOUR
    assert body["jobs"]["total"] == 22
    assert body["jobs"]["by_status"] == {
        "queued": 0,
        "running": 0,
        "succeeded": 15,
        "failed": 5,
        "timed_out": 0,
        "lost": 1,
        "cancelled": 1,
    }
    assert body["jobs"]["success_rate"] == pytest.approx(15 / 21)
    assert body["jobs"]["execution_time"] == {"mean": pytest.approx(10.5), "p95": 19.0}


def test_a_wider_window_takes_older_jobs_in(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()
    add_job(task, JobStatus.SUCCEEDED, 1.0)
    add_job(task, JobStatus.FAILED, 3.0, age=timedelta(hours=2))

    day = client.get("/stats", headers=auth_headers).json["jobs"]
    hour = client.get("/stats?window=3600", headers=auth_headers).json["jobs"]

    assert (day["total"], day["success_rate"], day["execution_time"]["mean"]) == (2, 0.5, 2.0)
    assert (hour["total"], hour["success_rate"], hour["execution_time"]["mean"]) == (1, 1.0, 1.0)


def test_a_user_without_jobs_gets_zeros_and_nulls(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    body = client.get("/stats", headers=auth_headers).json
    assert body["tasks"]["total"] == 0
    assert body["jobs"]["total"] == 0
    assert body["jobs"]["success_rate"] is None
    assert body["jobs"]["execution_time"] == {"mean": None, "p95": None}


@pytest.mark.parametrize(("role", "expected_tasks"), [(Role.ADMIN, 2), (Role.USER, 1)])
def test_all_covers_every_user_for_an_admin_only(
    client: FlaskClient,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    role: Role,
    expected_tasks: int,
) -> None:
    caller = make_user("caller", role=role)
    make_task(owner=caller)
    make_task(owner=make_user("other"))

    body = client.get("/stats?all=1", headers=headers_for(caller)).json

    assert body["tasks"]["total"] == expected_tasks
    assert body["scope"] == ("all" if role == Role.ADMIN else "user")


@pytest.mark.parametrize("query", ["window=59", "window=7776001", "window=soon", "windw=60"])
def test_a_bad_query_is_a_422_naming_the_parameter(
    client: FlaskClient, auth_headers: dict[str, str], query: str
) -> None:
    response = client.get(f"/stats?{query}", headers=auth_headers)
    assert response.status_code == 422
    assert query.split("=")[0] in response.json["errors"]


def test_stats_need_a_token(client: FlaskClient) -> None:
    response = client.get("/stats")
    assert response.status_code == 401
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_cli_prints_the_same_document_as_the_api(
    client: FlaskClient,
    runner: FlaskCliRunner,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
) -> None:
    admin = make_user("root", role=Role.ADMIN)
    add_job(make_task(owner=make_user("ann")), JobStatus.SUCCEEDED, 0.5)
    add_job(make_task(owner=admin), JobStatus.TIMED_OUT, 5.0)

    api = client.get("/stats?all=1&window=600", headers=headers_for(admin)).json
    result = runner.invoke(stats_command, ["--json", "--window", "600"])

    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    for document in (api, printed):
        del document["since"], document["until"]
    assert printed == api


def test_cli_reports_one_users_stats_as_text(
    runner: FlaskCliRunner, make_user: Callable[..., User], make_task: Callable[..., Task]
) -> None:
    ann = make_user("ann")
    add_job(make_task(owner=ann), JobStatus.SUCCEEDED, 0.25)
    make_task(owner=make_user("bob"))

    result = runner.invoke(stats_command, ["--user", "ann"])

    assert result.exit_code == 0, result.output
    assert "Statistics for user ann" in result.output
    assert "Tasks: 1" in result.output
    assert "Success rate: 100.0%" in result.output
    assert "mean 0.250 s, p95 0.250 s" in result.output


def test_cli_refuses_an_unknown_user(runner: FlaskCliRunner) -> None:
    result = runner.invoke(stats_command, ["--user", "nobody"])
    assert result.exit_code != 0
    assert "No user named 'nobody'" in result.output
