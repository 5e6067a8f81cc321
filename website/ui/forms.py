"""The task form: its fields read into the body the API takes, loaded by the API's schemas.

A form sends text only; numbers are turned into JSON numbers here when they are numbers, and
left as text otherwise, so that the schema refuses them with the API's own message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import marshmallow as ma

from website.errors import InvalidInput
from website.models import Task
from website.schemas.tasks import TaskCreateSchema, TaskUpdateSchema
from website.ui.blueprint import pretty_json

__all__ = ["FormErrors", "form_values", "load_task_form"]

INTEGER_FIELDS = ("task_interval", "max_execution_time", "max_attempt", "priority")
NUMBER_FIELDS = ("retry_backoff",)
# Optional fields left blank: absent (the schema's default, or unchanged when editing)...
OMITTED_WHEN_BLANK = ("max_execution_time", "max_attempt", "priority", "retry_backoff")
# ... or null: no end, a one-off task.
NULL_WHEN_BLANK = ("end_time", "task_interval")
INTEGER = re.compile(r"^[+-]?\d+$")
DATETIME_INPUT = "%Y-%m-%dT%H:%M:%S"  # what <input type="datetime-local" step="1"> shows

#: Field name -> messages, as the API's ``errors`` has them.
FormErrors = dict[str, Any]

_create_schema = TaskCreateSchema()
_update_schema = TaskUpdateSchema()


def _number(text: str, integer: bool) -> Any:
    if integer:
        return int(text) if INTEGER.match(text) else text
    try:
        return float(text)
    except ValueError:
        return text


def task_body(form: Mapping[str, str], *, creating: bool) -> dict[str, Any]:
    """The JSON body the form stands for, as POST or PATCH /tasks would receive it."""
    body: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "url": form.get("url", "").strip(),
    }
    parameters = form.get("parameters", "").strip()
    body["parameters"] = parameters or {}
    start_time = form.get("start_time", "").strip()
    if start_time:
        body["start_time"] = start_time
    for name in (*INTEGER_FIELDS, *NUMBER_FIELDS):
        text = form.get(name, "").strip()
        if text:
            body[name] = _number(text, integer=name in INTEGER_FIELDS)
        elif name in NULL_WHEN_BLANK:
            body[name] = None
    end_time = form.get("end_time", "").strip()
    body["end_time"] = end_time or None
    if creating:
        body["enabled"] = form.get("enabled") == "on"
    return body


def load_task_form(
    form: Mapping[str, str], *, creating: bool
) -> tuple[dict[str, Any] | None, FormErrors]:
    """The form's values loaded by the API's schema, or the schema's messages per field."""
    schema = _create_schema if creating else _update_schema
    try:
        return schema.load(task_body(form, creating=creating)), {}
    except ma.ValidationError as error:
        return None, error.normalized_messages()


def service_errors(error: InvalidInput) -> FormErrors:
    """A service's refusal as messages per field (its message when it names no field)."""
    return dict(error.errors) if error.errors else {"_schema": [error.message]}


def form_values(task: Task | None, form: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the form's fields show: what was just sent, else the task's settings."""
    if form is not None:
        return {name: form.get(name, "") for name in form}
    if task is None:
        return {"enabled": "on"}
    return {
        "name": task.name,
        "url": task.url,
        "parameters": pretty_json(task.parameters) if task.parameters else "",
        "task_interval": "" if task.task_interval is None else str(task.task_interval),
        "start_time": task.start_time.astimezone(UTC).strftime(DATETIME_INPUT),
        "end_time": ""
        if task.end_time is None
        else task.end_time.astimezone(UTC).strftime(DATETIME_INPUT),
        "retry_backoff": f"{task.retry_backoff:g}",
        "max_execution_time": str(task.max_execution_time),
        "max_attempt": str(task.max_attempt),
        "priority": str(task.priority),
    }
