"""Schemas of the bulk reset: which tasks to retry, and which were."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from website.services.task_retries import MAX_RESET_IDS

__all__ = ["TaskResetAttemptsSchema", "TaskResetResultSchema"]

MAX_ID = 2**31 - 1  # ids are INTEGER columns


class TaskResetAttemptsSchema(ma.Schema):
    """Exactly one of ids (these tasks) or state (every task of yours in it)."""

    ids = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        validate=validate.Length(min=1, max=MAX_RESET_IDS),
        metadata={"description": f"Task ids, at most {MAX_RESET_IDS}; every one must be yours."},
    )
    state = fields.String(
        validate=validate.OneOf(["exhausted"]),
        metadata={"description": "exhausted: every task of yours that has used up its attempts."},
    )

    @ma.validates_schema
    def _exactly_one(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if ("ids" in data) == ("state" in data):
            raise ma.ValidationError("Give exactly one of ids and state.", "_schema")


class TaskResetResultSchema(ma.Schema):
    """The tasks whose attempts were reset."""

    count = fields.Integer(dump_only=True)
    ids = fields.List(fields.Integer(), dump_only=True)
