"""``challenge tasks list/show/run/pause/resume``: the API's task operations, from the shell."""

from __future__ import annotations

import json
from collections.abc import Callable

from flask.testing import FlaskClient, FlaskCliRunner

from cli import main
from tests.conftest import headers_for
from tests.support.rows import jobs_of
from website.models import JobStatus, Task, User


def test_tasks_list_shows_every_users_tasks_or_one_users_with_user(
    runner: FlaskCliRunner, make_task: Callable[..., Task], make_user: Callable[..., User]
) -> None:
    bob = make_user("bob")
    mine = make_task(name="alice's feed")
    theirs = make_task(owner=bob, name="bob's feed")

    everyone = runner.invoke(main, ["tasks", "list"])
    only_bob = runner.invoke(main, ["tasks", "list", "--user", "bob"])

    assert everyone.exit_code == 0, everyone.output
    assert "alice's feed" in everyone.output
    assert "bob's feed" in everyone.output
    assert everyone.output.strip().endswith("2 of 2 tasks.")
    assert only_bob.exit_code == 0, only_bob.output
    assert "alice's feed" not in only_bob.output
    lines = only_bob.output.strip().splitlines()
    assert lines[0].split()[:2] == [str(theirs.id), "active"]
    assert mine.id != theirs.id


def test_tasks_list_as_json_is_what_the_api_lists(
    runner: FlaskCliRunner, client: FlaskClient, user: User, make_task: Callable[..., Task]
) -> None:
    for index in range(3):
        make_task(name=f"feed {index}")

    result = runner.invoke(
        main, ["tasks", "list", "--user", user.username, "--json", "--page-size", "2"]
    )

    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    api = client.get("/tasks?page_size=2", headers=headers_for(user))
    assert document["total"] == 3
    assert document["tasks"] == api.json


def test_tasks_list_filters_by_state_and_name(
    runner: FlaskCliRunner, make_task: Callable[..., Task]
) -> None:
    make_task(name="weather")
    paused = make_task(name="prices")
    runner.invoke(main, ["tasks", "pause", str(paused.id)])

    result = runner.invoke(main, ["tasks", "list", "--state", "paused", "--json"])
    by_name = runner.invoke(main, ["tasks", "list", "--name", "eath", "--json"])

    assert [task["name"] for task in json.loads(result.output)["tasks"]] == ["prices"]
    assert [task["name"] for task in json.loads(by_name.output)["tasks"]] == ["weather"]


def test_tasks_show_prints_what_the_api_answers(
    runner: FlaskCliRunner, client: FlaskClient, user: User, make_task: Callable[..., Task]
) -> None:
    task = make_task()

    result = runner.invoke(main, ["tasks", "show", str(task.id)])

    assert result.exit_code == 0, result.output
    assert (
        json.loads(result.output) == client.get(f"/tasks/{task.id}", headers=headers_for(user)).json
    )


def test_tasks_run_queues_a_job_now(runner: FlaskCliRunner, make_task: Callable[..., Task]) -> None:
    task = make_task()

    result = runner.invoke(main, ["tasks", "run", str(task.id)])

    assert result.exit_code == 0, result.output
    [job] = jobs_of(task.id)
    assert job.status == JobStatus.QUEUED
    assert result.output.strip() == f"Queued job {job.id} for task {task.id}."


def test_tasks_run_twice_is_refused_while_the_first_run_is_under_way(
    runner: FlaskCliRunner, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    runner.invoke(main, ["tasks", "run", str(task.id)])

    result = runner.invoke(main, ["tasks", "run", str(task.id)])

    assert result.exit_code == 1
    assert result.output.startswith(f"Error: task {task.id}: ")
    assert len(jobs_of(task.id)) == 1


def test_tasks_pause_and_resume_change_what_the_api_shows(
    runner: FlaskCliRunner, client: FlaskClient, user: User, make_task: Callable[..., Task]
) -> None:
    task = make_task()

    paused = runner.invoke(main, ["tasks", "pause", str(task.id), "--user", user.username])
    state_while_paused = client.get(f"/tasks/{task.id}", headers=headers_for(user)).json["state"]
    resumed = runner.invoke(main, ["tasks", "resume", str(task.id)])
    state_after = client.get(f"/tasks/{task.id}", headers=headers_for(user)).json["state"]

    assert paused.exit_code == 0, paused.output
    assert paused.output.strip() == f"Task {task.id} paused (state: paused)."
    assert state_while_paused == "paused"
    assert resumed.exit_code == 0, resumed.output
    assert resumed.output.startswith(f"Task {task.id} resumed (state: active, next run: ")
    assert state_after == "active"


def test_another_users_task_is_not_found_with_user(
    runner: FlaskCliRunner, make_task: Callable[..., Task], make_user: Callable[..., User]
) -> None:
    make_user("bob")
    task = make_task()

    for command in ("show", "run", "pause", "resume"):
        result = runner.invoke(main, ["tasks", command, str(task.id), "--user", "bob"])
        assert result.exit_code == 1, command
        assert result.output.strip() == f"Error: task {task.id}: Task not found", command
    assert jobs_of(task.id) == []


def test_an_unknown_user_or_task_is_one_line(runner: FlaskCliRunner) -> None:
    nobody = runner.invoke(main, ["tasks", "list", "--user", "nobody"])
    missing = runner.invoke(main, ["tasks", "show", "424242"])

    assert nobody.exit_code == 1
    assert nobody.output.strip() == "Error: no user named 'nobody'"
    assert missing.exit_code == 1
    assert missing.output.strip() == "Error: task 424242: Task not found"
