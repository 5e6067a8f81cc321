"""A task's state: the SQL rules (listings, counts) agree with the Python ones for every state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from website.extensions import db
from website.models import TASKS, Task, TaskState, User
from website.models.task import state_at, state_condition, state_expression

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

ONE_OFF: dict[str, Any] = {"task_interval": None, "next_run_at": None}
COMPLETED: dict[str, Any] = {**ONE_OFF, "last_execution_status": "succeeded"}

# Each case: a task's fields around NOW, and the state both rules must give it.
CASES = [
    pytest.param({}, TaskState.ACTIVE, id="active"),
    pytest.param({"start_time": NOW}, TaskState.ACTIVE, id="active-from-its-start"),
    pytest.param({"start_time": NOW + HOUR}, TaskState.PENDING, id="pending"),
    pytest.param({"enabled": False}, TaskState.PAUSED, id="paused"),
    pytest.param({"attempt": 3}, TaskState.EXHAUSTED, id="exhausted"),
    pytest.param({"end_time": NOW}, TaskState.EXPIRED, id="expired-at-its-end"),
    pytest.param({"end_time": NOW - HOUR}, TaskState.EXPIRED, id="expired"),
    pytest.param({"end_time": NOW + HOUR}, TaskState.ACTIVE, id="active-before-its-end"),
    pytest.param({"enabled": False, "end_time": NOW}, TaskState.EXPIRED, id="expired-and-paused"),
    pytest.param({"enabled": False, "attempt": 3}, TaskState.PAUSED, id="paused-and-exhausted"),
    pytest.param(
        {"attempt": 3, "start_time": NOW + HOUR, "end_time": NOW + 2 * HOUR},
        TaskState.EXHAUSTED,
        id="exhausted-and-pending",
    ),
    pytest.param(
        {"enabled": False, "start_time": NOW + HOUR, "end_time": NOW + 2 * HOUR},
        TaskState.PAUSED,
        id="paused-and-pending",
    ),
    # One-off tasks (no interval): they run once, retry on failure, then end completed or exhausted.
    pytest.param(
        {**ONE_OFF, "start_time": NOW + HOUR, "next_run_at": NOW + HOUR},
        TaskState.PENDING,
        id="pending-one-off",
    ),
    pytest.param({**ONE_OFF, "next_run_at": NOW}, TaskState.ACTIVE, id="active-one-off"),
    pytest.param({**ONE_OFF}, TaskState.ACTIVE, id="one-off-claimed-running"),
    pytest.param(
        {**ONE_OFF, "attempt": 1, "last_execution_status": "failed", "next_run_at": NOW + HOUR},
        TaskState.ACTIVE,
        id="one-off-retrying",
    ),
    pytest.param({**COMPLETED}, TaskState.COMPLETED, id="completed"),
    pytest.param(
        {**COMPLETED, "enabled": False, "end_time": NOW - HOUR},
        TaskState.COMPLETED,
        id="completed-paused-and-expired",
    ),
    pytest.param(
        {**COMPLETED, "next_run_at": NOW + HOUR}, TaskState.ACTIVE, id="completed-run-again"
    ),
    pytest.param(
        {**ONE_OFF, "attempt": 3, "last_execution_status": "failed"},
        TaskState.EXHAUSTED,
        id="exhausted-one-off",
    ),
    pytest.param(
        {**ONE_OFF, "end_time": NOW - HOUR}, TaskState.EXPIRED, id="one-off-expired-unrun"
    ),
    pytest.param(
        {**COMPLETED, "task_interval": 60}, TaskState.ACTIVE, id="interval-task-that-succeeded"
    ),
]


def stored_task(owner: User, fields: dict[str, Any]) -> Task:
    values: dict[str, Any] = {
        "name": "task",
        "url": "http://127.0.0.1:9/feed",
        "start_time": NOW - 2 * HOUR,
        "end_time": None,
        "task_interval": 60,
        "max_attempt": 3,
        "attempt": 0,
        "enabled": True,
        **fields,
    }
    if values["end_time"] is not None and values["end_time"] <= values["start_time"]:
        values["start_time"] = values["end_time"] - HOUR  # the window's order is a constraint
    task = Task(owner_id=owner.id, **values)
    db.session.add(task)
    db.session.commit()
    return task


@pytest.mark.parametrize(("fields", "state"), CASES)
def test_the_sql_and_python_rules_give_every_task_the_same_state(
    user: User, fields: dict[str, Any], state: TaskState
) -> None:
    task = stored_task(user, fields)

    in_sql = db.session.scalar(select(state_expression(NOW)).where(TASKS.c.id == task.id))
    conditions_met = [
        candidate
        for candidate in TaskState
        if db.session.scalar(
            select(TASKS.c.id).where(TASKS.c.id == task.id, state_condition(candidate, NOW))
        )
    ]

    assert (state_at(task, NOW), in_sql, conditions_met) == (state, state.value, [state])
