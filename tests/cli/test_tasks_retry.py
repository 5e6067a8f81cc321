"""``challenge tasks retry --exhausted``: the bulk reset from the shell."""

from __future__ import annotations

from collections.abc import Callable

from flask.testing import FlaskCliRunner

from cli import main
from tests.support.rows import set_task, task_row
from website.models import Task, TaskState, User


def exhausted(make_task: Callable[..., Task], **values: object) -> Task:
    task = make_task(**values)
    set_task(task.id, attempt=task.max_attempt, next_run_at=None)
    return task


def test_resets_every_users_exhausted_tasks_and_prints_them(
    runner: FlaskCliRunner, make_task: Callable[..., Task], make_user: Callable[..., User]
) -> None:
    mine = exhausted(make_task)
    theirs = exhausted(make_task, owner=make_user("bob"))
    healthy = make_task(name="healthy")

    result = runner.invoke(main, ["tasks", "retry", "--exhausted"])

    assert result.exit_code == 0, result.output
    assert result.output == f"Reset 2 exhausted tasks: {mine.id}, {theirs.id}.\n"
    assert {task_row(t.id).state for t in (mine, theirs, healthy)} == {TaskState.ACTIVE}


def test_user_narrows_it_to_one_users_tasks(
    runner: FlaskCliRunner, make_task: Callable[..., Task], make_user: Callable[..., User]
) -> None:
    mine = exhausted(make_task)
    theirs = exhausted(make_task, owner=make_user("bob"))

    result = runner.invoke(main, ["tasks", "retry", "--exhausted", "--user", "bob"])

    assert result.output == f"Reset 1 exhausted task: {theirs.id}.\n"
    assert task_row(mine.id).state == TaskState.EXHAUSTED


def test_says_so_when_nothing_is_exhausted(runner: FlaskCliRunner, user: User) -> None:
    result = runner.invoke(main, ["tasks", "retry", "--exhausted", "--user", "alice"])

    assert (result.exit_code, result.output) == (0, "Reset 0 exhausted tasks.\n")


def test_an_unknown_user_is_an_error(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["tasks", "retry", "--exhausted", "--user", "nobody"])

    assert result.exit_code == 1
    assert "No user named 'nobody'." in result.output


def test_without_exhausted_it_asks_what_to_retry(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["tasks", "retry"])

    assert result.exit_code == 2
    assert "Say what to retry: --exhausted." in result.output
