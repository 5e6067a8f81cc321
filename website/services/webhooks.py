"""Webhook subscriptions: create, list, change and delete them, their attempts, a test ping.

Always within an owner's scope (``None``: every user's, for an admin who asked); another user's
webhook is "not found". A webhook's URL passes the same checks as a task's (a 422 otherwise).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any, cast

from flask import current_app
from sqlalchemy import Select, func, select

from website.database import utcnow
from website.errors import InvalidInput, NotFound
from website.extensions import db
from website.models import (
    EventStatus,
    EventType,
    Task,
    User,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
)
from website.services.fetch import validate_task_url
from website.services.notifications import new_event_id
from website.services.pagination import counted_page

__all__ = [
    "SUBSCRIBABLE_EVENTS",
    "create_webhook",
    "delete_webhook",
    "get_webhook",
    "list_deliveries",
    "list_webhooks",
    "send_test_event",
    "update_webhook",
]

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105  (a marker, not a secret)
SECRET_BYTES = 32
SUBSCRIBABLE_EVENTS = tuple(event.value for event in EventType if event is not EventType.PING)


def create_webhook(owner_id: int, values: Mapping[str, Any]) -> Webhook:
    """A new webhook for ``owner_id``, with a fresh secret (shown to the owner only now)."""
    _check(owner_id, values)
    db.session.execute(select(User.id).where(User.id == owner_id).with_for_update())
    owned = db.session.scalar(select(func.count(Webhook.id)).where(Webhook.owner_id == owner_id))
    cap = current_app.config["MAX_WEBHOOKS_PER_USER"]
    if owned is not None and owned >= cap:
        db.session.rollback()
        raise InvalidInput(
            f"Webhook limit reached: at most {cap} webhooks per user",
            {"webhooks": [f"At most {cap} webhooks per user; delete one first."]},
        )
    webhook = Webhook(
        owner_id=owner_id, secret=SECRET_PREFIX + secrets.token_hex(SECRET_BYTES // 2), **values
    )
    db.session.add(webhook)
    db.session.commit()
    logger.info("webhook created", extra={"webhook_id": webhook.id, "user_id": owner_id})
    return webhook


def get_webhook(webhook_id: int, owner_id: int | None) -> Webhook:
    return _find(webhook_id, owner_id)


def list_webhooks(
    owner_id: int | None, *, page: int, page_size: int
) -> tuple[Sequence[Webhook], int]:
    query = select(Webhook).order_by(Webhook.id)
    if owner_id is not None:
        query = query.where(Webhook.owner_id == owner_id)
    return counted_page(query, page=page, page_size=page_size)


def update_webhook(webhook_id: int, owner_id: int | None, changes: Mapping[str, Any]) -> Webhook:
    """Change a webhook's fields (only those given); its secret never changes."""
    webhook = _find(webhook_id, owner_id, lock=True)
    try:
        _check(webhook.owner_id, changes)
    except InvalidInput:
        db.session.rollback()
        raise
    for name, value in changes.items():
        setattr(webhook, name, value)
    db.session.commit()
    return webhook


def delete_webhook(webhook_id: int, owner_id: int | None) -> None:
    """Delete a webhook with its pending events and recorded attempts."""
    webhook = _find(webhook_id, owner_id, lock=True)
    db.session.delete(webhook)
    db.session.commit()
    logger.info("webhook deleted", extra={"webhook_id": webhook_id})


def list_deliveries(
    webhook_id: int, owner_id: int | None, *, page: int, page_size: int
) -> tuple[Sequence[Any], int]:
    """The webhook's attempts, newest first, each with its event's id, type and state."""
    _find(webhook_id, owner_id)
    query = (
        select(
            WebhookDelivery.id,
            WebhookDelivery.attempt,
            WebhookDelivery.attempted_at,
            WebhookDelivery.status_code,
            WebhookDelivery.duration,
            WebhookDelivery.error,
            WebhookDelivery.succeeded,
            WebhookEvent.event_id,
            WebhookEvent.type.label("event_type"),
            WebhookEvent.task_id,
            WebhookEvent.job_id,
            WebhookEvent.status.label("event_status"),
        )
        .join(WebhookEvent, WebhookEvent.id == WebhookDelivery.event_row_id)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
    )
    return counted_page(cast("Select[Any]", query), page=page, page_size=page_size, whole_rows=True)


def send_test_event(webhook_id: int, owner_id: int | None) -> WebhookEvent:
    """Owe the webhook a ``ping`` event: the next tick publishes it, like any other event."""
    webhook = _find(webhook_id, owner_id)
    now = utcnow()
    event = WebhookEvent(
        event_id=new_event_id(),
        webhook_id=webhook.id,
        type=EventType.PING.value,
        data={"webhook_id": webhook.id},
        created_at=now,
        status=EventStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
    )
    db.session.add(event)
    db.session.commit()
    return event


def _find(webhook_id: int, owner_id: int | None, *, lock: bool = False) -> Webhook:
    query = select(Webhook).where(Webhook.id == webhook_id)
    if owner_id is not None:
        query = query.where(Webhook.owner_id == owner_id)
    if lock:
        query = query.with_for_update()
    webhook = db.session.scalars(query.execution_options(populate_existing=True)).one_or_none()
    if webhook is None:
        if lock:
            db.session.rollback()
        raise NotFound("Webhook not found")
    return webhook


def _check(owner_id: int, values: Mapping[str, Any]) -> None:
    """The URL passes the task URL rules; the task ids name the owner's tasks."""
    errors: dict[str, list[str]] = {}
    if "url" in values:
        try:
            validate_task_url(values["url"])
        except InvalidInput as error:
            errors.update(error.errors or {"url": [error.message]})
    task_ids = values.get("task_ids")
    if task_ids:
        found = set(
            db.session.scalars(
                select(Task.id).where(Task.id.in_(task_ids), Task.owner_id == owner_id)
            )
        )
        missing = sorted(set(task_ids) - found)
        if missing:
            errors["task_ids"] = [f"No such task among yours: {', '.join(map(str, missing))}."]
    if errors:
        raise InvalidInput(f"Invalid webhook: {', '.join(sorted(errors))}", errors)
