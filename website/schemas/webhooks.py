"""Schemas for webhooks as the API shows, creates and changes them, and for their attempts."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from website.models import EventStatus, EventType
from website.schemas import StrictSchema
from website.schemas.common import NO_NUL_CHARACTERS, StrictBoolean, UTCDateTime
from website.schemas.tasks import MAX_URL_LENGTH, URL_PATTERN

__all__ = [
    "WebhookCreateSchema",
    "WebhookCreatedSchema",
    "WebhookDeliverySchema",
    "WebhookEventSchema",
    "WebhookSchema",
    "WebhookUpdateSchema",
]

MAX_DESCRIPTION_LENGTH = 200  # the width of webhooks.description
MAX_TASK_IDS = 100  # tasks one webhook may name
MAX_ID = 2**31 - 1
SUBSCRIBABLE = [event.value for event in EventType if event is not EventType.PING]


def _unique(values: list[object]) -> None:
    if len(set(values)) != len(values):
        raise ma.ValidationError("Must not repeat a value.")


def _url_field(*, required: bool = False) -> fields.String:
    return fields.String(
        required=required,
        validate=[
            validate.Length(min=1, max=MAX_URL_LENGTH),
            validate.Regexp(URL_PATTERN, error="Must be an http(s) URL with a host."),
        ],
        metadata={"description": "Where events are POSTed: an http(s) URL with a public host."},
    )


def _events_field(*, required: bool = False) -> fields.List:
    return fields.List(
        fields.String(validate=validate.OneOf(SUBSCRIBABLE)),
        required=required,
        validate=[validate.Length(min=1, max=len(SUBSCRIBABLE)), _unique],
        metadata={"description": "The event types to receive.", "uniqueItems": True},
    )


def _task_ids_field() -> fields.List:
    return fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        allow_none=True,
        validate=[validate.Length(min=1, max=MAX_TASK_IDS), _unique],
        metadata={
            "description": "Only events of these tasks of yours; null: every task.",
            "uniqueItems": True,
        },
    )


def _description_field() -> fields.String:
    return fields.String(
        allow_none=True,
        validate=[validate.Length(max=MAX_DESCRIPTION_LENGTH), NO_NUL_CHARACTERS],
    )


class WebhookSchema(ma.Schema):
    """A webhook: where events go and which ones. Its secret is shown only at creation."""

    id = fields.Integer(dump_only=True)
    owner_id = fields.Integer(dump_only=True)
    url = fields.String(dump_only=True)
    events = fields.List(fields.String(metadata={"enum": SUBSCRIBABLE}), dump_only=True)
    task_ids = fields.List(fields.Integer(), dump_only=True, allow_none=True)
    active = fields.Boolean(dump_only=True)
    description = fields.String(dump_only=True, allow_none=True)
    created_at = UTCDateTime(dump_only=True)
    updated_at = UTCDateTime(dump_only=True)


class WebhookCreatedSchema(WebhookSchema):
    """A new webhook, with its signing secret: keep it now, it is never shown again."""

    secret = fields.String(
        dump_only=True,
        metadata={"description": "The HMAC-SHA256 key of the X-Challenge-Signature header."},
    )


class WebhookCreateSchema(StrictSchema):
    """A new webhook. url and events are required."""

    url = _url_field(required=True)
    events = _events_field(required=True)
    task_ids = _task_ids_field()
    active = StrictBoolean(load_default=True)
    description = _description_field()


class WebhookUpdateSchema(StrictSchema):
    """Changes to a webhook; every field is optional. The secret cannot change."""

    url = _url_field()
    events = _events_field()
    task_ids = _task_ids_field()
    active = StrictBoolean()
    description = _description_field()


class WebhookDeliverySchema(ma.Schema):
    """One attempt to deliver an event."""

    id = fields.Integer(dump_only=True)
    event_id = fields.String(dump_only=True, metadata={"description": "Same on every attempt."})
    event_type = fields.String(dump_only=True, metadata={"enum": [e.value for e in EventType]})
    event_status = fields.String(
        dump_only=True,
        metadata={"enum": [s.value for s in EventStatus], "description": "The event's state now."},
    )
    task_id = fields.Integer(dump_only=True, allow_none=True)
    job_id = fields.Integer(dump_only=True, allow_none=True)
    attempt = fields.Integer(dump_only=True, metadata={"description": "1 for the first."})
    attempted_at = UTCDateTime(dump_only=True)
    status_code = fields.Integer(
        dump_only=True, allow_none=True, metadata={"description": "null: no answer."}
    )
    duration = fields.Float(dump_only=True, allow_none=True, metadata={"description": "Seconds."})
    error = fields.String(dump_only=True, allow_none=True)
    succeeded = fields.Boolean(dump_only=True)


class WebhookEventSchema(ma.Schema):
    """An event owed to a webhook."""

    event_id = fields.String(dump_only=True)
    type = fields.String(dump_only=True, metadata={"enum": [e.value for e in EventType]})
    status = fields.String(dump_only=True, metadata={"enum": [s.value for s in EventStatus]})
    created_at = UTCDateTime(dump_only=True)
