"""``challenge tasks``: work with fetch tasks from the shell, through the API's services."""

from __future__ import annotations

from flask.cli import AppGroup

__all__ = ["tasks_group"]

tasks_group = AppGroup("tasks", help="Work with fetch tasks: import, export, list, run, retry.")
