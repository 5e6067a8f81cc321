"""Many tasks at once: a batch checked item by item and stored in one transaction, and export.

The edges load each item with the same schema as a single creation (``TaskItem``); this module
applies the same rules as ``create_task`` to each (``new_task_row``, ``reserve_tasks``), so a
batch item is refused exactly as the same body sent alone would be.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from sqlalchemy import insert, select

from website.database import read_only_transactions, utcnow
from website.errors import InvalidInput
from website.extensions import db
from website.models import Task
from website.services.tasks import new_task_row, reserve_tasks

__all__ = [
    "BatchResult",
    "ItemResult",
    "TaskItem",
    "create_task_batch",
    "import_tasks",
    "tasks_of",
]

logger = logging.getLogger(__name__)

MAX_INDEXES_NAMED = 10  # an all-or-nothing refusal's message names this many bad items at most
EXPORT_ROWS_PER_FETCH = 500  # tasks read from the database at a time while exporting

#: Called with how many items were just checked or stored (a progress bar's ``update``).
Progress = Callable[[int], None]


@dataclass(frozen=True)
class TaskItem:
    """One item as its edge loaded it: the task's settings, or the schema's errors."""

    values: Mapping[str, Any] | None = None
    errors: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ItemResult:
    """What became of one item: the new task's id, or why it was refused."""

    index: int
    id: int | None = None
    errors: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class BatchResult:
    """One result per item, in the items' order."""

    results: list[ItemResult] = field(default_factory=list)

    @property
    def created_ids(self) -> list[int]:
        return [result.id for result in self.results if result.id is not None]

    @property
    def created(self) -> int:
        return len(self.created_ids)

    @property
    def refused(self) -> int:
        return len(self.results) - self.created


def create_task_batch(owner_id: int, items: Sequence[TaskItem], *, partial: bool) -> BatchResult:
    """One request's batch: at most MAX_BATCH items, else refused whole (see ``import_tasks``)."""
    limit = current_app.config["MAX_BATCH"]
    if len(items) > limit:
        raise InvalidInput(
            f"Too many tasks in one batch: at most {limit} (MAX_BATCH)",
            {"tasks": [f"At most {limit} tasks per batch; this one has {len(items)}."]},
        )
    return import_tasks(owner_id, items, partial=partial)


def import_tasks(
    owner_id: int,
    items: Sequence[TaskItem],
    *,
    partial: bool,
    progress: Progress | None = None,
) -> BatchResult:
    """Create a task for each valid item in one transaction, inserted MAX_BATCH rows at a time.

    All or nothing unless ``partial``: one refused item refuses them all (``InvalidInput`` with
    ``{"tasks": {"<index>": errors}}``). With ``partial`` the valid items are stored and the
    others answered with their errors. Either way the per-user cap counts every task stored
    together: a batch that would cross it is refused whole.
    """
    # Checking takes a while (a URL's host may take seconds to resolve): hold no transaction,
    # and on SQLite not the write lock, meanwhile. The insert locks what it needs.
    db.session.rollback()
    now = utcnow()
    rows: dict[int, dict[str, Any]] = {}
    errors: dict[int, Mapping[str, Any]] = {}
    for index, item in enumerate(items):
        if item.values is None:
            errors[index] = item.errors or {}
        else:
            try:
                rows[index] = new_task_row(item.values, now)
            except InvalidInput as error:
                errors[index] = error.errors or {"_schema": [error.message]}
        if progress is not None:
            progress(1)
    if errors and not partial:
        raise _refusal(errors, len(items))
    ids = _insert(owner_id, rows) if rows else {}
    return BatchResult(
        [
            ItemResult(index, id=ids[index])
            if index in ids
            else ItemResult(index, errors=errors[index])
            for index in range(len(items))
        ]
    )


def tasks_of(owner_id: int) -> Iterator[Task]:
    """Every task of ``owner_id``, oldest first, read a page of ids at a time.

    Pages by id, each read in its own read-only transaction: no server-side cursor (PostgreSQL
    allows one only inside a transaction, and reads run in autocommit there), and never the
    SQLite write lock.
    """
    after = 0
    while True:
        db.session.rollback()
        with read_only_transactions():
            page = db.session.scalars(
                select(Task)
                .where(Task.owner_id == owner_id, Task.id > after)
                .order_by(Task.id)
                .limit(EXPORT_ROWS_PER_FETCH)
            ).all()
            yield from page  # read before the rollback below expires them
            last_id = page[-1].id if page else None
            db.session.rollback()
        if last_id is None or len(page) < EXPORT_ROWS_PER_FETCH:
            return
        after = last_id


def _insert(owner_id: int, rows: Mapping[int, dict[str, Any]]) -> dict[int, int]:
    """Insert the rows (after reserving room for them all) and commit; index → new task id."""
    reserve_tasks(owner_id, len(rows))
    statement = insert(Task).returning(Task.id, sort_by_parameter_order=True)
    ids: dict[int, int] = {}
    indexes, chunk_size = list(rows), current_app.config["MAX_BATCH"]
    for start in range(0, len(indexes), chunk_size):
        chunk = indexes[start : start + chunk_size]
        created = db.session.scalars(statement, [{"owner_id": owner_id, **rows[i]} for i in chunk])
        ids.update(zip(chunk, created, strict=True))
    db.session.commit()
    logger.info("tasks created in a batch: %d", len(ids), extra={"user_id": owner_id})
    return ids


def _refusal(errors: Mapping[int, Mapping[str, Any]], total: int) -> InvalidInput:
    named = ", ".join(str(index) for index in sorted(errors)[:MAX_INDEXES_NAMED])
    more = "" if len(errors) <= MAX_INDEXES_NAMED else ", ..."
    return InvalidInput(
        f"Invalid tasks: {len(errors)} of {total} refused (index {named}{more}); none was created",
        {"tasks": {str(index): errors[index] for index in sorted(errors)}},
    )
