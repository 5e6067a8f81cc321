"""``challenge tasks``: work with fetch tasks from the shell, through the services the API uses."""

from __future__ import annotations

from flask.cli import AppGroup

__all__ = ["tasks_group"]

tasks_group = AppGroup("tasks", help="Work with fetch tasks: import, export, list, run, retry.")


def _register_task_commands() -> None:
    from cli.task_commands import TASK_COMMANDS
    from cli.task_import import export_command, import_command
    from cli.task_retry import retry_command

    for command in (*TASK_COMMANDS, import_command, export_command, retry_command):
        tasks_group.add_command(command)


_register_task_commands()
