"""``challenge tasks``: fetch tasks from the shell, through the same services as the API."""

from __future__ import annotations

from flask.cli import AppGroup

__all__ = ["tasks_group"]

tasks_group = AppGroup("tasks", help="Work with fetch tasks: import, export, list, run, retry.")


def _register_task_commands() -> None:
    from cli.task_commands import TASK_COMMANDS

    for command in TASK_COMMANDS:
        tasks_group.add_command(command)


_register_task_commands()
