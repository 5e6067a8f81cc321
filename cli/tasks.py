"""``challenge tasks``: fetch tasks from the shell, through the same services as the API."""

from __future__ import annotations

from flask.cli import AppGroup

__all__ = ["tasks_group"]

tasks_group = AppGroup("tasks", help="Work with fetch tasks: import, export, list, run, retry.")
