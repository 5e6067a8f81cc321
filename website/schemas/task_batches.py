"""Schemas of many tasks at once: a batch's items are loaded one by one with ``TaskCreateSchema``.

Each item gets exactly the messages that the same body sent to POST /tasks would get; a bad item
does not stop the others from loading (partial mode stores them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from website.schemas import StrictSchema
from website.schemas.common import QueryArgsSchema
from website.schemas.tasks import TaskCreateSchema
from website.services.task_batches import TaskItem

__all__ = [
    "BATCH_MODES",
    "TaskBatchArgsSchema",
    "TaskBatchResultSchema",
    "TaskBatchSchema",
    "export_task",
    "load_task_items",
]

BATCH_MODES = ("all", "partial")

_create_schema = TaskCreateSchema()


def load_task_items(bodies: Iterable[Any]) -> list[TaskItem]:
    """Each body loaded as POST /tasks loads its body: its settings, or the schema's errors."""
    items = []
    for body in bodies:
        try:
            items.append(TaskItem(values=_create_schema.load(body)))
        except ma.ValidationError as error:
            items.append(TaskItem(errors=error.normalized_messages()))
    return items


def export_task(task: Any) -> dict[str, Any]:
    """A task's settings as a body POST /tasks accepts: every field of ``TaskCreateSchema``."""
    exported: dict[str, Any] = _create_schema.dump(task)
    return exported


class TaskItemsField(fields.List):
    """The ``tasks`` of a batch: a non-empty list, each item loaded into a ``TaskItem``."""

    default_error_messages = {"invalid": "Must be a list of task bodies (objects)."}

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            fields.Nested(TaskCreateSchema),
            validate=validate.Length(min=1, error="Send at least one task."),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        return load_task_items(value)


class TaskBatchSchema(StrictSchema):
    """Tasks to create at once: each item is a body POST /tasks accepts."""

    tasks = TaskItemsField(
        required=True,
        metadata={"description": "Up to MAX_BATCH task bodies, each as POST /tasks takes it."},
    )


class TaskBatchArgsSchema(QueryArgsSchema):
    """How a batch with refused items is handled."""

    mode = fields.String(
        load_default="all",
        validate=validate.OneOf(BATCH_MODES),
        metadata={
            "description": "all: one refused item refuses the batch (422, nothing stored); "
            "partial: the valid items are stored, the others answered with their errors."
        },
    )


class TaskBatchItemResultSchema(ma.Schema):
    """One item's outcome: the new task's id, or the errors that refused it."""

    index = fields.Integer(dump_only=True)
    id = fields.Integer(dump_only=True, metadata={"description": "Present when created."})
    errors = fields.Dict(
        dump_only=True, metadata={"description": "Present when refused: as POST /tasks says."}
    )

    @ma.post_dump
    def _drop_absent(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        return {name: value for name, value in data.items() if value is not None}


class TaskBatchResultSchema(ma.Schema):
    """What a batch created: counts, and one result per item in the items' order."""

    created = fields.Integer(dump_only=True)
    refused = fields.Integer(dump_only=True)
    results = fields.List(fields.Nested(TaskBatchItemResultSchema), dump_only=True)
