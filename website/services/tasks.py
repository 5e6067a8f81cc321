"""Fetch tasks: create, change, delete and control them (owner-scoped)."""

from __future__ import annotations

import logging
from typing import Any

from website.database import utcnow
from website.extensions import db
from website.models import Task
from website.services.slots import first_run_at

__all__ = ["create_task"]

logger = logging.getLogger(__name__)


def create_task(owner_id: int, values: dict[str, Any]) -> Task:
    """Create a task for ``owner_id``; its first run is at max(start_time, now)."""
    task = Task(owner_id=owner_id, **values)
    task.next_run_at = first_run_at(task.start_time, utcnow())
    db.session.add(task)
    db.session.commit()
    logger.info("task created", extra={"task_id": task.id, "user_id": owner_id})
    return task
