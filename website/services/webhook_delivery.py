"""Delivering the outbox: the tick publishes due events (never more than a few in flight), a
worker POSTs each one signed, records the attempt, and plans the retry or gives up.

Every state lives in ``webhook_events``: a message lost with Redis, or a worker killed mid-POST,
leaves the event pending with a lease that runs out, and the next tick publishes it again. The
queue is a port, ``DeliveryQueue``, installed by the Celery side as
``app.extensions["delivery_queue"]``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from flask import current_app
from sqlalchemy import delete, func, insert, or_, select, update

from website.database import utcnow
from website.extensions import db
from website.models import EventStatus, Webhook, WebhookDelivery, WebhookEvent
from website.services.fetch import USER_AGENT, FetchError
from website.services.fetch.post import post
from website.services.write_turns import write_turn

__all__ = [
    "SIGNATURE_HEADER",
    "DeliveryMessage",
    "DeliveryQueue",
    "deliver",
    "due_condition",
    "event_body",
    "in_flight_condition",
    "prune_finished_events",
    "publish_due_events",
    "retry_delay",
    "sign",
]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Challenge-Signature"
EVENT_HEADER = "X-Challenge-Event"
EVENT_ID_HEADER = "X-Challenge-Event-Id"
MAX_ERROR_LENGTH = 500  # characters of an attempt's error kept
PRUNE_BATCH_SIZE = 1000  # events deleted per transaction, so no lock is held for long
# A published event's lease covers its wait in the queue and its POST; when it runs out unclaimed
# (a lost message, a killed worker) the next tick publishes the event again.
QUEUE_WAIT_SECONDS = 30


@dataclass(frozen=True)
class DeliveryMessage:
    """What a worker needs to make one attempt: the outbox row and the attempt's number."""

    event_row_id: int
    attempt: int


class DeliveryQueue(Protocol):
    """Where delivery attempts wait for a worker (their own queue, apart from fetch jobs)."""

    def publish(self, messages: Sequence[DeliveryMessage]) -> list[int]:
        """Send ``webhooks.deliver`` for each message; the row ids that reached the broker."""
        ...


def delivery_queue() -> DeliveryQueue:
    queue: DeliveryQueue = current_app.extensions["delivery_queue"]
    return queue


def due_condition(now: datetime) -> Any:
    """SQL for "owed now and not in flight"."""
    return (
        (WebhookEvent.status == EventStatus.PENDING)
        & (WebhookEvent.next_attempt_at <= now)
        & or_(WebhookEvent.lease_until.is_(None), WebhookEvent.lease_until < now)
    )


def in_flight_condition(now: datetime) -> Any:
    """SQL for "published or being attempted, not finished": what the in-flight cap counts."""
    return (WebhookEvent.status == EventStatus.PENDING) & (WebhookEvent.lease_until >= now)


def publish_due_events(now: datetime) -> list[int]:
    """Publish the due events, keeping at most ``WEBHOOK_MAX_IN_FLIGHT`` in flight at once.

    The cap bounds the worker slots deliveries can take from fetch jobs, whatever the receivers
    do; an event waits in the database, not in Redis, until a slot is free.
    """
    config = current_app.config
    # The lease covers the message's wait for a worker (as long as a queued job's, REQUEUE_AFTER)
    # and the POST; when it runs out unclaimed (a lost message) a later tick publishes it again.
    lease = timedelta(seconds=config["WEBHOOK_TIMEOUT"] + config["REQUEUE_AFTER"])
    with write_turn():
        in_flight = db.session.scalar(
            select(func.count(WebhookEvent.id)).where(in_flight_condition(now))
        )
        room = config["WEBHOOK_MAX_IN_FLIGHT"] - (in_flight or 0)
        if room <= 0:
            db.session.rollback()
            return []
        rows = db.session.execute(
            select(WebhookEvent.id, WebhookEvent.attempts)
            .where(due_condition(now))
            .order_by(WebhookEvent.next_attempt_at, WebhookEvent.id)
            .limit(room)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            db.session.rollback()
            return []
        db.session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id.in_([row.id for row in rows]))
            .values(lease_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    messages = [DeliveryMessage(row.id, row.attempts + 1) for row in rows]
    return delivery_queue().publish(messages)


def retry_delay(attempts: int, base: float, maximum: float) -> float:
    """Seconds before the next attempt after ``attempts`` failed: base, 2 base, 4 base ... max."""
    return float(min(base * 2 ** (attempts - 1), maximum))


def event_body(event: WebhookEvent) -> bytes:
    """The JSON body: the same bytes on every attempt."""
    document = {
        "id": event.event_id,
        "type": event.type,
        "created_at": event.created_at.isoformat(),
        "task_id": event.task_id,
        "job_id": event.job_id,
        "data": event.data,
    }
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: ``t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">``."""
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def deliver(event_row_id: int, attempt: int) -> str | None:
    """Make attempt ``attempt`` of an event; its new status, None when not ours (a duplicate)."""
    config = current_app.config
    claimed = _claim(
        event_row_id, attempt, config["WEBHOOK_TIMEOUT"] + config["LEASE_GRACE_SECONDS"]
    )
    if claimed is None:
        logger.info("delivery not claimed: done or taken", extra={"event_row_id": event_row_id})
        return None
    event, url, secret = claimed
    body = event_body(event)
    started = utcnow()
    status_code: int | None = None
    error: str | None = None
    duration: float | None = None
    try:
        result = post(url, body, _headers(event, secret, body, started), config["WEBHOOK_TIMEOUT"])
        status_code, duration = result.status_code, result.duration
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: only a 2xx status acknowledges an event."
    except FetchError as failure:
        error = failure.message[:MAX_ERROR_LENGTH]
        duration = (utcnow() - started).total_seconds()
    return _record_attempt(event, attempt, started, status_code, duration, error)


def _claim(
    event_row_id: int, attempt: int, lease_seconds: float
) -> tuple[WebhookEvent, str, str] | None:
    """Count the attempt and lease the event for its POST; None if another attempt got there."""
    now = utcnow()
    with write_turn():
        claimed = db.session.execute(
            update(WebhookEvent)
            .where(
                WebhookEvent.id == event_row_id,
                WebhookEvent.status == EventStatus.PENDING,
                WebhookEvent.attempts == attempt - 1,
            )
            .values(attempts=attempt, lease_until=now + timedelta(seconds=lease_seconds))
            .returning(WebhookEvent.id)
            .execution_options(synchronize_session=False)
        ).first()
        if claimed is None:
            db.session.rollback()
            return None
        event, url, secret = db.session.execute(
            select(WebhookEvent, Webhook.url, Webhook.secret)
            .join(Webhook, Webhook.id == WebhookEvent.webhook_id)
            .where(WebhookEvent.id == event_row_id)
        ).one()
        db.session.commit()
    return event, url, secret


def _headers(event: WebhookEvent, secret: str, body: bytes, now: datetime) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: event.type,
        EVENT_ID_HEADER: event.event_id,
        SIGNATURE_HEADER: sign(secret, int(now.timestamp()), body),
    }


def _record_attempt(
    event: WebhookEvent,
    attempt: int,
    started: datetime,
    status_code: int | None,
    duration: float | None,
    error: str | None,
) -> str:
    """Write the attempt, and the event's new state: delivered, retried later, or failed."""
    config = current_app.config
    now = utcnow()
    values: dict[str, Any] = {"lease_until": None}
    if error is None:
        values |= {"status": EventStatus.DELIVERED.value, "delivered_at": now}
    elif attempt >= config["WEBHOOK_MAX_ATTEMPTS"]:
        values |= {"status": EventStatus.FAILED.value, "next_attempt_at": None}
    else:
        delay = retry_delay(
            attempt, config["WEBHOOK_RETRY_BASE_SECONDS"], config["WEBHOOK_RETRY_MAX_SECONDS"]
        )
        values["next_attempt_at"] = now + timedelta(seconds=delay)
    with write_turn():
        db.session.execute(
            insert(WebhookDelivery).values(
                webhook_id=event.webhook_id,
                event_row_id=event.id,
                attempt=attempt,
                attempted_at=started,
                status_code=status_code,
                duration=duration,
                error=error,
                succeeded=error is None,
            )
        )
        db.session.execute(
            update(WebhookEvent)
            .where(WebhookEvent.id == event.id, WebhookEvent.attempts == attempt)
            .values(values)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    status = values.get("status", EventStatus.PENDING.value)
    log = logger.info if error is None else logger.warning
    log(
        "webhook %s attempt %s: %s",
        event.event_id,
        attempt,
        error or f"HTTP {status_code}",
        extra={"webhook_id": event.webhook_id, "task_id": event.task_id},
    )
    return str(status)


def prune_finished_events(now: datetime) -> int:
    """Delete delivered and failed events (with their attempts) older than
    ``WEBHOOK_RETENTION_DAYS``, in small batches; how many were deleted."""
    cutoff = now - timedelta(days=current_app.config["WEBHOOK_RETENTION_DAYS"])
    finished = (EventStatus.DELIVERED.value, EventStatus.FAILED.value)
    deleted = 0
    while True:
        with write_turn():
            batch = db.session.scalars(
                select(WebhookEvent.id)
                .where(WebhookEvent.status.in_(finished), WebhookEvent.created_at < cutoff)
                .order_by(WebhookEvent.id)
                .limit(PRUNE_BATCH_SIZE)
            ).all()
            if batch:
                # Attempts first: SQLite enforces the foreign keys but the cascade is ours to do.
                db.session.execute(
                    delete(WebhookDelivery).where(WebhookDelivery.event_row_id.in_(batch))
                )
                db.session.execute(delete(WebhookEvent).where(WebhookEvent.id.in_(batch)))
            db.session.commit()
        deleted += len(batch)
        if len(batch) < PRUNE_BATCH_SIZE:
            break
    if deleted:
        logger.info("pruned %s webhook events older than the retention", deleted)
    return deleted
