"""The event rules: which state changes are events, and their outbox rows, written in the
transaction of the change that caused them (so an event is never lost nor created twice).

The executor and the reconciler call ``job_succeeded`` / ``job_failed`` with the connection of
the transaction that finishes a job; the tick calls ``record_stale_tasks``. An event becomes one
``webhook_events`` row per active webhook of the task's owner that wants it (none: no row);
``website.services.webhook_delivery`` delivers them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, insert, select, true, update
from sqlalchemy.engine import Connection

from website.extensions import db
from website.models import TASKS, WEBHOOK_EVENTS, EventStatus, EventType, Webhook
from website.services.fetch import Record
from website.services.fetch.records import RecordChanges
from website.services.job_store import LockedTask
from website.services.schedule import TaskRun
from website.services.write_turns import write_turn

__all__ = [
    "count_stale_tasks",
    "count_webhook_events",
    "emit",
    "job_failed",
    "job_succeeded",
    "new_event_id",
    "record_stale_tasks",
    "stale_condition",
]

logger = logging.getLogger(__name__)

WEBHOOKS = Webhook.__table__
EVENT_ID_PREFIX = "evt_"
# The owner's active webhooks, found from the task (the locked task row does not carry its owner).
SUBSCRIBERS = select(WEBHOOKS.c.id, WEBHOOKS.c.events, WEBHOOKS.c.task_ids).where(
    WEBHOOKS.c.owner_id
    == select(TASKS.c.owner_id).where(TASKS.c.id == bindparam("task_id")).scalar_subquery(),
    WEBHOOKS.c.active == true(),
)
INSERT_EVENT = insert(WEBHOOK_EVENTS)


def new_event_id() -> str:
    """A fresh event id: what receivers deduplicate on."""
    return EVENT_ID_PREFIX + uuid.uuid4().hex


def job_succeeded(
    connection: Connection,
    task: LockedTask,
    job_id: int,
    *,
    previous: Mapping[str, str],
    records: Sequence[Record],
    changes: RecordChanges,
    not_modified: bool,
    now: datetime,
) -> None:
    """``task.recovered`` after failures, ``data.changed`` when the records differ.

    ``task`` is as locked before the run was recorded. A task's first records change nothing:
    there was no previous run to differ from.
    """
    if task.attempt > 0:
        emit(
            connection,
            EventType.TASK_RECOVERED,
            task.id,
            job_id,
            {"failed_attempts": task.attempt},
            now,
        )
    changed = changes.added + changes.changed + changes.removed
    if changed and not not_modified and task.last_data_job_id is not None:
        emit(
            connection,
            EventType.DATA_CHANGED,
            task.id,
            job_id,
            lambda: _data_changes(previous, records, changes),
            now,
        )


def job_failed(
    connection: Connection, task: LockedTask, run: TaskRun, job_id: int, status: str, now: datetime
) -> None:
    """``task.exhausted`` when this failure used the task's last attempt."""
    if task.attempt < task.max_attempt <= run.attempt:
        data = {
            "attempts": run.attempt,
            "max_attempt": task.max_attempt,
            "status": status,
            "error": run.last_execution_error,
        }
        emit(connection, EventType.TASK_EXHAUSTED, task.id, job_id, data, now)


def stale_condition(now: datetime) -> Any:
    """SQL for "the task has just gone stale": an enabled task in its window, past ``stale_at``."""
    return (
        (TASKS.c.stale_at <= now)
        & (TASKS.c.enabled == true())
        & (TASKS.c.end_time.is_(None) | (TASKS.c.end_time > now))
    )


def record_stale_tasks(now: datetime) -> list[int]:
    """One ``task.stale`` per task that went stale; its ``stale_at`` is cleared until a success.

    Runs in the tick, in the write turn. Tasks are locked before their events are written, like
    a finishing job does, so a success and the alert never cross.
    """
    with write_turn():
        rows = db.session.execute(
            select(TASKS.c.id, TASKS.c.stale_after, TASKS.c.last_success_at)
            .where(stale_condition(now))
            .order_by(TASKS.c.id)
            .limit(current_app.config["SCHEDULER_BATCH"])
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            db.session.rollback()
            return []
        db.session.execute(
            update(TASKS)
            .where(TASKS.c.id.in_([row.id for row in rows]))
            .values(stale_at=None, updated_at=TASKS.c.updated_at)
        )
        connection = db.session.connection()
        for row in rows:
            last = row.last_success_at
            data = {
                "stale_after": row.stale_after,
                "last_success_at": None if last is None else last.isoformat(),
            }
            emit(connection, EventType.TASK_STALE, row.id, None, data, now)
        db.session.commit()
    stale = [row.id for row in rows]
    for task_id in stale:
        logger.warning("task stale: no successful run in time", extra={"task_id": task_id})
    return stale


def count_stale_tasks(now: datetime) -> int:
    """Enabled tasks in their window with no success for their ``stale_after`` (for /metrics).

    Counted in Python: only tasks with ``stale_after`` are read, and SQL date arithmetic differs
    between the databases.
    """
    rows = db.session.execute(
        select(TASKS.c.stale_after, TASKS.c.last_success_at, TASKS.c.start_time).where(
            TASKS.c.stale_after.is_not(None),
            TASKS.c.enabled == true(),
            TASKS.c.end_time.is_(None) | (TASKS.c.end_time > now),
        )
    )
    return sum(
        1
        for row in rows
        if (row.last_success_at or row.start_time) + timedelta(seconds=row.stale_after) <= now
    )


def count_webhook_events() -> dict[str, int]:
    """Webhook events by status (for /metrics)."""
    counts = dict.fromkeys((status.value for status in EventStatus), 0)
    rows = db.session.execute(
        select(WEBHOOK_EVENTS.c.status, func.count()).group_by(WEBHOOK_EVENTS.c.status)
    )
    counts.update({status: int(count) for status, count in rows})
    return counts


def emit(
    connection: Connection,
    event_type: EventType,
    task_id: int,
    job_id: int | None,
    data: dict[str, Any] | Any,
    now: datetime,
) -> int:
    """Write the event for each webhook that wants it; the number of rows written.

    ``data`` may be a callable, called only when someone subscribes (building it has a cost).
    """
    wanted = [
        row.id
        for row in connection.execute(SUBSCRIBERS, {"task_id": task_id})
        if event_type in (row.events or ()) and (row.task_ids is None or task_id in row.task_ids)
    ]
    if not wanted:
        return 0
    payload = data() if callable(data) else data
    event_id = new_event_id()
    connection.execute(
        INSERT_EVENT,
        [
            {
                "event_id": event_id,
                "webhook_id": webhook_id,
                "type": event_type.value,
                "task_id": task_id,
                "job_id": job_id,
                "data": payload,
                "created_at": now,
                "status": EventStatus.PENDING.value,
                "attempts": 0,
                "next_attempt_at": now,
            }
            for webhook_id in wanted
        ],
    )
    logger.info(
        "event %s %s for %s webhooks",
        event_type.value,
        event_id,
        len(wanted),
        extra={"task_id": task_id, "job_id": job_id},
    )
    return len(wanted)


def _data_changes(
    previous: Mapping[str, str], records: Sequence[Record], changes: RecordChanges
) -> dict[str, Any]:
    """The counts, and the keys of the records added, changed and removed (each list capped)."""
    cap = current_app.config["WEBHOOK_MAX_CHANGED_IDS"]
    current = {record.key: record.content_hash for record in records if record.key is not None}
    added = [key for key in current if key not in previous]
    changed = [
        key for key, digest in current.items() if key in previous and previous[key] != digest
    ]
    removed = [key for key in previous if key not in current]
    return {
        "added": changes.added,
        "changed": changes.changed,
        "removed": changes.removed,
        "records": len(records),
        "added_ids": added[:cap],
        "changed_ids": changed[:cap],
        "removed_ids": removed[:cap],
        "ids_truncated": max(len(added), len(changed), len(removed)) > cap,
    }
