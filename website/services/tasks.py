"""Fetch tasks: create, list, change, delete and control them, always within an owner's scope.

``owner_id`` is the user whose tasks a call may touch; ``None`` means every user's (an admin who
asked for it). Another user's task is "not found", so that its existence is not revealed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

from flask import current_app
from sqlalchemy import (
    BindParameter,
    bindparam,
    func,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.sql import Select

from website.database import UTCDateTime, utcnow
from website.errors import InvalidInput, NotFound
from website.extensions import db
from website.models import TASKS, Job, Task, TaskState, User
from website.models.task import state_condition, state_expression
from website.services.fetch import validate_task_url
from website.services.manual_runs import run_task_now
from website.services.pagination import PagedQuery, counted_page
from website.services.schedule import (
    first_run_at,
    rescheduled_run_at,
    reschedules,
    reset_run_at,
    stale_at_after,
)

__all__ = [
    "Precondition",
    "create_task",
    "delete_task",
    "get_task",
    "list_tasks",
    "new_task_row",
    "owned_by",
    "pause_task",
    "reserve_tasks",
    "reset_task_attempt",
    "resume_task",
    "revive",
    "run_task",
    "update_task",
]

logger = logging.getLogger(__name__)

SelectT = TypeVar("SelectT", bound="Select[*tuple[Any, ...]]")  # any select over tasks

#: Called with the locked task before a change; raises (e.g. PreconditionFailed) to refuse it.
Precondition = Callable[[Task], None]

# What a listed task shows (see TaskSchema); secrets of the fetch (etag, last_modified) stay out.
LISTED_COLUMNS = (
    TASKS.c.id,
    TASKS.c.owner_id,
    TASKS.c.name,
    TASKS.c.url,
    TASKS.c.parameters,
    TASKS.c.start_time,
    TASKS.c.end_time,
    TASKS.c.task_interval,
    TASKS.c.retry_backoff,
    TASKS.c.max_execution_time,
    TASKS.c.max_attempt,
    TASKS.c.attempt,
    TASKS.c.enabled,
    TASKS.c.priority,
    TASKS.c.next_run_at,
    TASKS.c.last_execute_time,
    TASKS.c.last_execution_status,
    TASKS.c.last_success_at,
    TASKS.c.stale_after,
    TASKS.c.created_at,
    TASKS.c.updated_at,
)
#: The time, given when a statement runs (``{NOW.key: utcnow()}``), in statements built once.
NOW: BindParameter[datetime] = bindparam("now", type_=UTCDateTime())
SORT_COLUMNS = {
    "id": TASKS.c.id,
    "name": TASKS.c.name,
    "created_at": TASKS.c.created_at,
    "next_run_at": TASKS.c.next_run_at,
    "priority": TASKS.c.priority,
}


def create_task(owner_id: int, values: Mapping[str, Any]) -> Task:
    """Create a task for ``owner_id``; its first run is at max(start_time, now)."""
    row = new_task_row(values, utcnow())
    reserve_tasks(owner_id, 1)
    task = Task(owner_id=owner_id, **row)
    db.session.add(task)
    db.session.commit()
    logger.info("task created", extra={"task_id": task.id, "user_id": owner_id})
    return task


def new_task_row(values: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A new task's columns from its loaded settings: checked (URL included), start_time
    defaulted to ``now``, and its first run set. Raises ``InvalidInput`` naming each broken rule.
    """
    row = {"start_time": now, **values}
    _check_settings(row, check_url=True)
    row["next_run_at"] = first_run_at(row["start_time"], now)
    row["stale_at"] = stale_at_after(row["next_run_at"], row.get("stale_after"))
    return row


def reserve_tasks(owner_id: int, count: int) -> None:
    """Lock the owner's row and refuse ``count`` more tasks if they would cross the per-user cap.

    The lock holds until the caller commits, so that concurrent creations cannot overshoot the
    cap together. A refusal rolls back and raises ``InvalidInput``.
    """
    db.session.execute(select(User.id).where(User.id == owner_id).with_for_update())
    owned = db.session.scalar(select(func.count(Task.id)).where(Task.owner_id == owner_id)) or 0
    cap = current_app.config["MAX_TASKS_PER_USER"]
    if owned + count <= cap:
        return
    db.session.rollback()
    if count == 1:
        raise InvalidInput(
            f"Task limit reached: at most {cap} tasks per user",
            {"tasks": [f"At most {cap} tasks per user; delete one first."]},
        )
    raise InvalidInput(
        f"Task limit: these {count} tasks would bring you to {owned + count}; at most {cap} "
        "tasks per user",
        {"tasks": [f"At most {cap} tasks per user; you have {owned}, room for {cap - owned}."]},
    )


def get_task(task_id: int, owner_id: int | None) -> Task:
    """The task, if ``owner_id`` may see it."""
    return _find_task(task_id, owner_id)


def list_tasks(
    owner_id: int | None,
    *,
    page: int,
    page_size: int,
    state: str | None = None,
    name_contains: str | None = None,
    sort: str = "id",
) -> tuple[Sequence[Row[Any]], int]:
    """One page of tasks, filtered by state and by part of the name, and the total count.

    The tasks are rows of ``LISTED_COLUMNS`` and the task's ``state``, read fresh.
    """
    params: dict[str, Any] = {NOW.key: utcnow()}
    if owner_id is not None:
        params[_OWNER.key] = owner_id
    if name_contains:
        params[_NAME_PATTERN.key] = f"%{_escape_like(name_contains)}%"
    listing = _listing(owner_id is None, state, bool(name_contains), sort)
    return counted_page(listing, page=page, page_size=page_size, whole_rows=True, params=params)


def update_task(
    task_id: int,
    owner_id: int | None,
    changes: Mapping[str, Any],
    *,
    precondition: Precondition | None = None,
) -> Task:
    """Apply ``changes``; a new url, interval or window reschedules the task."""
    task = _find_task(task_id, owner_id, lock=True)
    if precondition is not None:
        _check_or_rollback(precondition, task)
    changed = {name: value for name, value in changes.items() if getattr(task, name) != value}
    merged = {**_settings_of(task), **changed}
    try:
        _check_settings(merged, check_url="url" in changed)
    except InvalidInput:
        db.session.rollback()
        raise
    for name, value in changed.items():
        setattr(task, name, value)
    if reschedules(changed.keys(), task):
        _reschedule(task, run_now="url" in changed)
    if "stale_after" in changed:  # counted from the last success (from now if none yet)
        task.stale_at = stale_at_after(task.last_success_at or utcnow(), task.stale_after)
    db.session.commit()
    logger.info(
        "task updated: %s",
        ", ".join(sorted(changed)) or "nothing changed",
        extra={"task_id": task.id, "user_id": task.owner_id},
    )
    return task


def delete_task(
    task_id: int, owner_id: int | None, *, precondition: Precondition | None = None
) -> None:
    """Delete the task with its jobs and data. A job still running finishes into the void."""
    task = _find_task(task_id, owner_id, lock=True)
    if precondition is not None:
        _check_or_rollback(precondition, task)
    db.session.delete(task)
    db.session.commit()
    logger.info("task deleted", extra={"task_id": task_id, "user_id": task.owner_id})


def pause_task(task_id: int, owner_id: int | None) -> Task:
    """Stop scheduling the task; a job already queued or running still finishes."""
    task = _find_task(task_id, owner_id, lock=True)
    task.enabled = False
    db.session.commit()
    logger.info("task paused", extra={"task_id": task.id, "user_id": task.owner_id})
    return task


def resume_task(task_id: int, owner_id: int | None) -> Task:
    """Schedule the task again: a slot missed while paused runs once now, then the grid goes on."""
    task = _find_task(task_id, owner_id, lock=True)
    if not task.enabled:
        task.enabled = True
        _reschedule(task, run_now=False)
    db.session.commit()
    logger.info("task resumed", extra={"task_id": task.id, "user_id": task.owner_id})
    return task


def reset_task_attempt(task_id: int, owner_id: int | None) -> Task:
    """Forget the task's consecutive failures (reviving an exhausted task) and run it soon.

    A completed one-off task stays completed (see ``reset_run_at``).
    """
    task = _find_task(task_id, owner_id, lock=True)
    revive(task, utcnow())
    db.session.commit()
    logger.info("task attempts reset", extra={"task_id": task.id, "user_id": task.owner_id})
    return task


def revive(task: Task, now: datetime) -> None:
    """The reset's rule, for one task or many: no failures counted, the next run at once (or at
    its start_time; a completed one-off task stays completed). The caller holds the task's lock
    and commits."""
    task.attempt = 0
    task.next_run_at = reset_run_at(task, now)


def run_task(task_id: int, owner_id: int | None) -> Job:
    """Queue one run of the task now, outside its schedule (Conflict if one is under way)."""
    task = _find_task(task_id, owner_id)
    return run_task_now(task.id)


# Built once (building it takes longer than running it): the listed tasks' state at NOW.
_LISTED_STATE = state_expression(NOW).label("state")
_OWNER: BindParameter[int] = bindparam("owner_id")
_NAME_PATTERN: BindParameter[str] = bindparam("name_pattern")
LIKE_ESCAPE = "/"
LISTING_SHAPES_CACHED = 256  # owner scope x state x name filter x sort: fewer than this exist


@lru_cache(maxsize=LISTING_SHAPES_CACHED)
def _listing(every_owner: bool, state: str | None, by_name: bool, sort: str) -> PagedQuery:
    """The statements of one shape of task listing, built once; the values are parameters."""
    query = select(*LISTED_COLUMNS, _LISTED_STATE)
    if not every_owner:
        query = query.where(TASKS.c.owner_id == _OWNER)
    if state is not None:
        query = query.where(state_condition(TaskState(state), NOW))
    if by_name:
        query = query.where(TASKS.c.name.ilike(_NAME_PATTERN, escape=LIKE_ESCAPE))
    return PagedQuery.of(_sorted(query, sort))


def _escape_like(text: str) -> str:
    """``text`` matched literally by LIKE: its wildcards and the escape character escaped."""
    for special in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, LIKE_ESCAPE + special)
    return text


def owned_by(query: SelectT, owner_id: int | None) -> SelectT:
    """``query`` (over tasks) narrowed to ``owner_id``'s tasks; ``None`` leaves every owner's."""
    return query if owner_id is None else query.where(TASKS.c.owner_id == owner_id)


def _find_task(task_id: int, owner_id: int | None, *, lock: bool = False) -> Task:
    query = owned_by(select(Task).where(Task.id == task_id), owner_id)
    if lock:
        query = query.with_for_update()
    # Re-read the row even if this session has seen it: a worker may have changed it since.
    task = db.session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if task is None:
        if lock:
            db.session.rollback()
        raise NotFound("Task not found")
    return task


def _check_or_rollback(precondition: Precondition, task: Task) -> None:
    try:
        precondition(task)
    except Exception:
        db.session.rollback()
        raise


def _sorted(query: SelectT, sort: str) -> SelectT:
    descending = sort.startswith("-")
    column = SORT_COLUMNS[sort.lstrip("-")]
    order = column.desc() if descending else column.asc()
    if column is TASKS.c.next_run_at:
        order = order.nulls_last()  # tasks that will not run again (expired, exhausted) go last
    return query.order_by(order, TASKS.c.id.desc() if descending else TASKS.c.id.asc())


def _settings_of(task: Task) -> dict[str, Any]:
    return {
        "start_time": task.start_time,
        "end_time": task.end_time,
        "task_interval": task.task_interval,
        "max_execution_time": task.max_execution_time,
    }


def _check_settings(values: Mapping[str, Any], *, check_url: bool) -> None:
    """The rules that depend on configuration or on several fields; every broken one is named."""
    config = current_app.config
    errors: dict[str, list[str]] = {}
    if check_url:
        try:
            validate_task_url(values["url"])
        except InvalidInput as error:
            errors.update(error.errors or {"url": [error.message]})
    interval = values.get("task_interval")
    if interval is not None and not (
        config["MIN_TASK_INTERVAL"] <= interval <= config["MAX_TASK_INTERVAL"]
    ):
        errors["task_interval"] = [
            f"Must be from {config['MIN_TASK_INTERVAL']} to {config['MAX_TASK_INTERVAL']} seconds."
        ]
    max_execution_time = values.get("max_execution_time", 0)
    if not 0 <= max_execution_time <= config["MAX_EXECUTION_TIME"]:
        errors["max_execution_time"] = [
            f"Must be from 0 to {config['MAX_EXECUTION_TIME']} seconds (0: the default)."
        ]
    end_time = values.get("end_time")
    if end_time is not None and end_time <= values["start_time"]:
        errors["end_time"] = ["Must be after start_time."]
    if errors:
        raise InvalidInput(f"Invalid task: {', '.join(sorted(errors))}", errors)


def _reschedule(task: Task, *, run_now: bool) -> None:
    task.next_run_at = rescheduled_run_at(task, utcnow(), task.last_execute_time, run_now=run_now)
