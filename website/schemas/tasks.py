"""Schemas for tasks as the API shows them, creates and changes them, and for their status."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from website.config import ONE_YEAR
from website.models import JobStatus, TaskState
from website.models.task import MAX_RETRY_BACKOFF
from website.schemas import StrictSchema
from website.schemas.common import (
    NO_NUL_CHARACTERS,
    FastDumpSchema,
    ScopeArgsSchema,
    StrictBoolean,
    UTCDateTime,
)
from website.schemas.task_parameters import TaskParametersField, TaskParametersSchema

__all__ = [
    "TASK_SORT_KEYS",
    "TaskCreateSchema",
    "TaskQueryArgsSchema",
    "TaskSchema",
    "TaskStatusArgsSchema",
    "TaskStatusSchema",
    "TaskUpdateSchema",
]

MAX_NAME_LENGTH = 200  # the width of tasks.name
MAX_URL_LENGTH = 2048  # the width of tasks.url
MAX_ATTEMPT_LIMIT = 100  # consecutive failures a task may be allowed before it is exhausted
MAX_STATUS_RECORDS = 1000  # records the status endpoint returns at most; /data pages through all
DEFAULT_STATUS_RECORDS = 100
# Sorting keys of GET /tasks; a leading "-" sorts descending. Ties are broken by id.
TASK_SORT_KEYS = tuple(
    f"{direction}{key}"
    for key in ("id", "name", "created_at", "next_run_at", "priority")
    for direction in ("", "-")
)
TASK_STATES = [state.value for state in TaskState]
JOB_STATUSES = [status.value for status in JobStatus]
STALE = "Seconds without a successful run after which task.stale is sent; null: never."
URL_PATTERN = r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s\x00/?#@\\]+([/?#][^\s\x00]*)?$"


def _name_field(*, required: bool = False) -> fields.String:
    return fields.String(
        required=required,
        validate=[validate.Length(min=1, max=MAX_NAME_LENGTH), NO_NUL_CHARACTERS],
    )


def _url_field(*, required: bool = False) -> fields.String:
    return fields.String(
        validate=[
            validate.Length(min=1, max=MAX_URL_LENGTH),
            validate.Regexp(URL_PATTERN, error="Must be an http(s) URL with a host."),
        ],
        metadata={"description": "An http(s) URL with a host that resolves to public addresses."},
        required=required,
    )


class _StrictFloat(fields.Float):
    """A JSON number only: a string or a boolean is not one (as ``strict`` integers refuse)."""

    def _deserialize(
        self, value: object, attr: str | None, data: object, **kwargs: object
    ) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.make_error("invalid")
        return float(super()._deserialize(value, attr, data, **kwargs))


def _retry_backoff_field(**options: Any) -> fields.Float:
    return _StrictFloat(
        validate=validate.Range(
            min=0,
            min_inclusive=False,
            max=MAX_RETRY_BACKOFF,
            error=f"Must be more than 0 and at most {MAX_RETRY_BACKOFF:g} seconds.",
        ),
        metadata={
            "description": "Seconds before the first retry of a failed run; each further retry "
            "waits twice as long, capped at task_interval (one day for a one-off task).",
            "exclusiveMinimum": True,  # OpenAPI 3.0's form; apispec omits min_inclusive
        },
        **options,
    )


def _stale_after_field() -> fields.Integer:
    return fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(min=1, max=ONE_YEAR),
        metadata={"description": STALE},
    )


class TaskSchema(FastDumpSchema):
    """A task: what it fetches, when, and where its schedule stands."""

    id = fields.Integer(dump_only=True)
    owner_id = fields.Integer(dump_only=True)
    name = fields.String(dump_only=True)
    url = fields.String(dump_only=True)
    parameters = fields.Nested(TaskParametersSchema, dump_only=True)
    start_time = UTCDateTime(dump_only=True)
    end_time = UTCDateTime(dump_only=True, allow_none=True)
    task_interval = fields.Integer(
        dump_only=True, allow_none=True, metadata={"description": "Seconds; null: a one-off task."}
    )
    retry_backoff = fields.Float(
        dump_only=True, metadata={"description": "Seconds: the first retry's delay, then doubled."}
    )
    max_execution_time = fields.Integer(
        dump_only=True, metadata={"description": "Seconds; 0 means the configured default."}
    )
    max_attempt = fields.Integer(dump_only=True)
    attempt = fields.Integer(dump_only=True, metadata={"description": "Consecutive failures."})
    enabled = fields.Boolean(dump_only=True)
    priority = fields.Integer(dump_only=True, metadata={"description": "0-9, 9 = most urgent."})
    state = fields.String(dump_only=True, metadata={"enum": TASK_STATES})
    next_run_at = UTCDateTime(dump_only=True, allow_none=True)
    last_execute_time = UTCDateTime(dump_only=True, allow_none=True)
    last_execution_status = fields.String(
        dump_only=True, allow_none=True, metadata={"enum": [*JOB_STATUSES, None]}
    )
    last_success_at = UTCDateTime(
        dump_only=True, allow_none=True, metadata={"description": "When a run last succeeded."}
    )
    stale_after = fields.Integer(dump_only=True, allow_none=True, metadata={"description": STALE})
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class TaskCreateSchema(StrictSchema):
    """A new task. Only name and url are required; without task_interval it runs once."""

    name = _name_field(required=True)
    url = _url_field(required=True)
    parameters = TaskParametersField(load_default=dict)
    start_time = UTCDateTime(
        metadata={"description": "When the window opens (default: now); naive means UTC."}
    )
    end_time = UTCDateTime(
        allow_none=True,
        load_default=None,
        metadata={"description": "When the window closes (none: never); after start_time."},
    )
    task_interval = fields.Integer(
        strict=True,
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=1, max=ONE_YEAR),
        metadata={
            "description": "Seconds between runs, from MIN_TASK_INTERVAL to one year; null or "
            "absent: a one-off task, run once at start_time (retried on failure)."
        },
    )
    retry_backoff = _retry_backoff_field(load_default=1.0)
    max_execution_time = fields.Integer(
        strict=True,
        load_default=0,
        validate=validate.Range(min=0),
        metadata={
            "description": "Seconds one run may take, up to MAX_EXECUTION_TIME; 0 means the "
            "configured default."
        },
    )
    max_attempt = fields.Integer(
        strict=True,
        load_default=3,
        validate=validate.Range(min=1, max=MAX_ATTEMPT_LIMIT),
        metadata={"description": "Consecutive failures before the task is exhausted."},
    )
    priority = fields.Integer(
        strict=True,
        load_default=5,
        validate=validate.Range(min=0, max=9),
        metadata={"description": "0-9, 9 = most urgent."},
    )
    enabled = StrictBoolean(load_default=True)
    stale_after = _stale_after_field()


class TaskUpdateSchema(StrictSchema):
    """Changes to a task; every field is optional. A new url, interval or window reschedules it."""

    name = _name_field()
    url = _url_field()
    parameters = TaskParametersField()
    start_time = UTCDateTime()
    end_time = UTCDateTime(allow_none=True)
    task_interval = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(min=1, max=ONE_YEAR)
    )
    retry_backoff = _retry_backoff_field()
    max_execution_time = fields.Integer(strict=True, validate=validate.Range(min=0))
    max_attempt = fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ATTEMPT_LIMIT))
    priority = fields.Integer(strict=True, validate=validate.Range(min=0, max=9))
    enabled = StrictBoolean()
    stale_after = _stale_after_field()


class TaskQueryArgsSchema(ScopeArgsSchema):
    """Filters and order of GET /tasks."""

    state = fields.String(validate=validate.OneOf(TASK_STATES))
    q = fields.String(
        validate=[validate.Length(min=1, max=MAX_NAME_LENGTH), NO_NUL_CHARACTERS],
        metadata={"description": "Part of the name, case-insensitive."},
    )
    sort = fields.String(
        load_default="id",
        validate=validate.OneOf(TASK_SORT_KEYS),
        metadata={"description": "A key, or -key for descending order."},
    )


class TaskStatusArgsSchema(ScopeArgsSchema):
    """How many of the last successful job's records the status carries."""

    limit = fields.Integer(
        load_default=DEFAULT_STATUS_RECORDS,
        validate=validate.Range(min=0, max=MAX_STATUS_RECORDS),
    )


class LastExecutionDataSchema(ma.Schema):
    """The records of the task's last successful job (the first ``limit`` of them)."""

    job_id = fields.Integer(dump_only=True)
    fetched_at = UTCDateTime(dump_only=True, allow_none=True)
    total = fields.Integer(dump_only=True, metadata={"description": "All records of the job."})
    records = fields.List(fields.Raw(), dump_only=True)
    records_added = fields.Integer(dump_only=True, allow_none=True)
    records_changed = fields.Integer(dump_only=True, allow_none=True)
    records_removed = fields.Integer(dump_only=True, allow_none=True)


class TaskStatusSchema(ma.Schema):
    """How a task's runs are going. A task that never ran has nulls here."""

    id = fields.Integer(dump_only=True)
    state = fields.String(dump_only=True, metadata={"enum": TASK_STATES})
    execution_time = fields.Float(
        dump_only=True, allow_none=True, metadata={"description": "Seconds the last run took."}
    )
    last_execute_time = UTCDateTime(dump_only=True, allow_none=True)
    last_execution_status = fields.String(
        dump_only=True, allow_none=True, metadata={"enum": [*JOB_STATUSES, None]}
    )
    last_execution_error = fields.String(dump_only=True, allow_none=True)
    last_execution_data = fields.Nested(LastExecutionDataSchema, dump_only=True, allow_none=True)
    last_job_id = fields.Integer(dump_only=True, allow_none=True)
    attempt = fields.Integer(dump_only=True)
    max_attempt = fields.Integer(dump_only=True)
    next_run_at = UTCDateTime(dump_only=True, allow_none=True)
