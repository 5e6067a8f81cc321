"""Schemas for jobs (one execution of a task) and the records they brought back."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from website.models import JobStatus
from website.schemas.common import ScopeArgsSchema, UTCDateTime

__all__ = ["DataSchema", "JobListArgsSchema", "JobQueryArgsSchema", "JobSchema"]

JOB_STATUSES = [status.value for status in JobStatus]
JOB_TRIGGERS = ["schedule", "manual"]
MAX_ID = 2**31 - 1  # ids are INTEGER columns


class JobSchema(ma.Schema):
    """One execution of a task, from queued to a final status."""

    id = fields.Integer(dump_only=True)
    task_id = fields.Integer(dump_only=True)
    status = fields.String(dump_only=True, metadata={"enum": JOB_STATUSES})
    trigger = fields.String(dump_only=True, metadata={"enum": JOB_TRIGGERS})
    scheduled_for = UTCDateTime(dump_only=True)
    attempt = fields.Integer(
        dump_only=True, metadata={"description": "The task's failure count when it was queued."}
    )
    queued_at = UTCDateTime(dump_only=True)
    started_at = UTCDateTime(dump_only=True, allow_none=True)
    finished_at = UTCDateTime(dump_only=True, allow_none=True)
    duration = fields.Float(
        dump_only=True, allow_none=True, metadata={"description": "Seconds, start to finish."}
    )
    http_status = fields.Integer(dump_only=True, allow_none=True)
    error = fields.String(dump_only=True, allow_none=True)
    not_modified = fields.Boolean(
        dump_only=True, metadata={"description": "The server answered 304: no new records."}
    )
    records_count = fields.Integer(dump_only=True, allow_none=True)
    records_added = fields.Integer(dump_only=True, allow_none=True)
    records_changed = fields.Integer(dump_only=True, allow_none=True)
    records_removed = fields.Integer(dump_only=True, allow_none=True)


class JobQueryArgsSchema(ScopeArgsSchema):
    """Filters of a task's job list."""

    status = fields.String(validate=validate.OneOf(JOB_STATUSES))


class JobListArgsSchema(ScopeArgsSchema):
    """Filters of the list of every job (the dead-letter view, with the failed statuses)."""

    status = fields.List(
        fields.String(validate=validate.OneOf(JOB_STATUSES)),
        metadata={"description": "Keep jobs of these statuses; repeat it for several."},
    )
    task_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    since = UTCDateTime(metadata={"description": "Jobs queued at or after this time."})
    until = UTCDateTime(metadata={"description": "Jobs queued before this time."})
    scope = fields.String(
        load_default="mine",
        validate=validate.OneOf(["mine", "all"]),
        metadata={"description": "Admins only: all includes every user's jobs (as all=1 does)."},
    )


class DataSchema(ma.Schema):
    """One record a job brought back."""

    id = fields.Integer(dump_only=True)
    job_id = fields.Integer(dump_only=True)
    record_key = fields.String(
        dump_only=True,
        allow_none=True,
        metadata={"description": "The record's record_key field, when it has one."},
    )
    content_hash = fields.String(dump_only=True, metadata={"description": "SHA-256 of the record."})
    payload = fields.Raw(dump_only=True, allow_none=True, metadata={"description": "The record."})
