"""``challenge tasks``: work with fetch tasks from the shell, through the services the API uses."""

from __future__ import annotations

from flask.cli import AppGroup

from cli.task_import import export_command, import_command

__all__ = ["tasks_group"]

tasks_group = AppGroup("tasks", help="Work with fetch tasks: import, export, list, run, retry.")
tasks_group.add_command(import_command)
tasks_group.add_command(export_command)
