"""Retrying tasks in bulk: the reset of ``POST /tasks/<id>/reset-attempt`` on many tasks at once."""

from __future__ import annotations

import logging
from collections.abc import Collection

from sqlalchemy import select

from website.database import utcnow
from website.errors import NotFound
from website.extensions import db
from website.models import Task, TaskState
from website.models.task import state_condition
from website.services.tasks import owned_by, revive

__all__ = ["MAX_RESET_IDS", "reset_attempts"]

logger = logging.getLogger(__name__)

MAX_RESET_IDS = 1000  # task ids one bulk reset may name


def reset_attempts(
    owner_id: int | None, *, ids: Collection[int] | None = None, exhausted: bool = False
) -> list[int]:
    """Reset the tasks named by ``ids``, or every exhausted task, within ``owner_id``'s scope.

    All or nothing: an id that is not one of the owner's tasks is ``NotFound`` (naming each such
    id) and nothing is reset. Returns the ids reset, in order.
    """
    if (ids is None) == (not exhausted):
        raise ValueError("give either ids or exhausted=True")
    now = utcnow()
    query = owned_by(select(Task), owner_id)
    if ids is not None:
        query = query.where(Task.id.in_(sorted(set(ids))))
    else:
        query = query.where(state_condition(TaskState.EXHAUSTED, now))
    # Locked in id order, as everywhere several tasks are locked, so that no deadlock can occur.
    tasks = db.session.scalars(
        query.order_by(Task.id).with_for_update().execution_options(populate_existing=True)
    ).all()
    if ids is not None:
        missing = sorted(set(ids) - {task.id for task in tasks})
        if missing:
            db.session.rollback()
            listed = ", ".join(map(str, missing))
            raise NotFound(
                f"Tasks not found: {listed}", {"ids": [f"No such task among yours: {listed}."]}
            )
    for task in tasks:
        revive(task, now)
    db.session.commit()
    reset = [task.id for task in tasks]
    logger.info("attempts reset on %s tasks", len(reset), extra={"user_id": owner_id})
    return reset
