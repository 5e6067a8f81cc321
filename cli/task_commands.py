"""``challenge tasks list/show/run/pause/resume``: the API's task operations, from the shell.

They call the same services as ``/tasks``. Without ``--user`` they see every user's tasks (the
shell is the operator's, as for ``challenge stats``); with ``--user NAME`` only that user's, and
another user's task is "not found", as in the API.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from flask.cli import with_appcontext

from website.errors import DomainError
from website.models import Job, Task, TaskState
from website.schemas.jobs import JobSchema
from website.schemas.tasks import TASK_SORT_KEYS, TaskSchema
from website.services.tasks import get_task, list_tasks, pause_task, resume_task, run_task
from website.services.users import get_user_by_username

__all__ = ["TASK_COMMANDS"]

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000

user_option = click.option(
    "--user",
    "username",
    metavar="NAME",
    help="Only this user's tasks (default: every user's).",
)
json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print the JSON document the API answers."
)


def _owner_scope(username: str | None) -> int | None:
    """The owner id of ``--user NAME``, or None (every user's tasks) without it."""
    if username is None:
        return None
    user = get_user_by_username(username)
    if user is None:
        raise click.ClickException(f"no user named {username!r}")
    return user.id


def _refused(error: DomainError, task_id: int) -> click.ClickException:
    details = "; ".join(
        f"{field}: {' '.join(map(str, problem)) if isinstance(problem, list) else problem}"
        for field, problem in error.errors.items()
    )
    message = f"{error.message} ({details})" if details else error.message
    return click.ClickException(f"task {task_id}: {message}")


def _echo_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@click.command("list")
@user_option
@click.option(
    "--state",
    type=click.Choice([state.value for state in TaskState]),
    help="Only tasks in this state.",
)
@click.option("--name", "name_contains", metavar="TEXT", help="Only tasks whose name holds TEXT.")
@click.option(
    "--sort",
    type=click.Choice(TASK_SORT_KEYS),
    default="id",
    show_default=True,
    help="Sort key; a leading '-' sorts descending.",
)
@click.option(
    "--page", type=click.IntRange(1), default=1, show_default=True, help="Page number (from 1)."
)
@click.option(
    "--page-size",
    type=click.IntRange(1, MAX_PAGE_SIZE),
    default=DEFAULT_PAGE_SIZE,
    show_default=True,
    help="Tasks per page.",
)
@json_option
@with_appcontext
def list_command(
    username: str | None,
    state: str | None,
    name_contains: str | None,
    sort: str,
    page: int,
    page_size: int,
    as_json: bool,
) -> None:
    """List tasks: id, state, interval, next run, name and URL, one per line."""
    rows, total = list_tasks(
        _owner_scope(username),
        page=page,
        page_size=page_size,
        state=state,
        name_contains=name_contains,
        sort=sort,
    )
    documents = TaskSchema(many=True).dump([row._mapping for row in rows])
    if as_json:
        _echo_json({"total": total, "page": page, "page_size": page_size, "tasks": documents})
        return
    for task in documents:
        click.echo(
            f"{task['id']:>6}  {task['state']:<9} every {task['task_interval']:>6} s  "
            f"next {task['next_run_at'] or '-':<32}  {task['name']}  {task['url']}"
        )
    shown = len(documents)
    click.echo(f"{shown} of {total} tasks" + (f" (page {page})" if total > shown else "") + ".")


@click.command("show")
@click.argument("task_id", type=int)
@user_option
@with_appcontext
def show_command(task_id: int, username: str | None) -> None:
    """Print one task, as GET /tasks/ID answers it."""
    _echo_json(TaskSchema().dump(_task_or_refusal(get_task, task_id, username)))


@click.command("run")
@click.argument("task_id", type=int)
@user_option
@json_option
@with_appcontext
def run_command(task_id: int, username: str | None, as_json: bool) -> None:
    """Queue one run of the task now, outside its schedule (as POST /tasks/ID/run)."""
    owner_id = _owner_scope(username)
    try:
        job: Job = run_task(task_id, owner_id)
    except DomainError as error:
        raise _refused(error, task_id) from None
    if as_json:
        _echo_json(JobSchema().dump(job))
        return
    click.echo(f"Queued job {job.id} for task {task_id}.")


@click.command("pause")
@click.argument("task_id", type=int)
@user_option
@with_appcontext
def pause_command(task_id: int, username: str | None) -> None:
    """Stop scheduling the task; a job already queued or running still finishes."""
    task = _task_or_refusal(pause_task, task_id, username)
    click.echo(f"Task {task.id} paused (state: {task.state}).")


@click.command("resume")
@click.argument("task_id", type=int)
@user_option
@with_appcontext
def resume_command(task_id: int, username: str | None) -> None:
    """Schedule the task again; a slot missed while paused runs once now."""
    task = _task_or_refusal(resume_task, task_id, username)
    next_run = task.next_run_at.isoformat() if task.next_run_at else "never"
    click.echo(f"Task {task.id} resumed (state: {task.state}, next run: {next_run}).")


def _task_or_refusal(
    service: Callable[[int, int | None], Task], task_id: int, username: str | None
) -> Task:
    owner_id = _owner_scope(username)
    try:
        return service(task_id, owner_id)
    except DomainError as error:
        raise _refused(error, task_id) from None


#: Registered on ``challenge tasks`` by cli/tasks.py.
TASK_COMMANDS = (list_command, show_command, run_command, pause_command, resume_command)
