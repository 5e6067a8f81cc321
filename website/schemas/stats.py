"""Schemas for GET /stats: the query (window, all) and the statistics it answers with."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from website.models import JobStatus, TaskState
from website.schemas import StrictSchema
from website.services.stats import DEFAULT_WINDOW_SECONDS, MAX_WINDOW_SECONDS, MIN_WINDOW_SECONDS

__all__ = ["StatsQueryArgsSchema", "StatsSchema"]


class StatsQueryArgsSchema(StrictSchema):
    """How far back the job statistics look, and (admins) whether to cover every user."""

    window = fields.Integer(
        load_default=DEFAULT_WINDOW_SECONDS,
        validate=validate.Range(min=MIN_WINDOW_SECONDS, max=MAX_WINDOW_SECONDS),
        metadata={"description": "Seconds back from now that the job statistics cover."},
    )
    all = fields.Boolean(
        load_default=False,
        metadata={"description": "Admins only: every user's tasks and jobs."},
    )


def _counts(keys: list[str], description: str) -> fields.Dict:
    return fields.Dict(
        keys=fields.String(validate=validate.OneOf(keys)),
        values=fields.Integer(),
        metadata={"description": description},
    )


class TaskStatsSchema(ma.Schema):
    total = fields.Integer()
    by_state = _counts([state.value for state in TaskState], "Tasks per state, right now.")


class ExecutionTimeSchema(ma.Schema):
    mean = fields.Float(allow_none=True, metadata={"description": "Seconds; null if none ran."})
    p95 = fields.Float(
        allow_none=True, metadata={"description": "Seconds, 95th percentile (nearest rank)."}
    )


class JobStatsSchema(ma.Schema):
    total = fields.Integer()
    by_status = _counts([status.value for status in JobStatus], "Jobs queued in the window.")
    success_rate = fields.Float(
        allow_none=True,
        metadata={"description": "succeeded / (succeeded + failed + timed_out + lost)."},
    )
    execution_time = fields.Nested(ExecutionTimeSchema)


class StatsSchema(ma.Schema):
    """Task states now, and the outcomes and timings of the jobs queued in the window."""

    scope = fields.String(metadata={"enum": ["user", "all"]})
    user_id = fields.Integer(attribute="owner_id", allow_none=True)
    window_seconds = fields.Integer()
    since = fields.DateTime()
    until = fields.DateTime()
    tasks = fields.Nested(TaskStatsSchema)
    jobs = fields.Nested(JobStatsSchema)
