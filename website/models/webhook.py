"""Webhooks: a user's subscriptions, the outbox of events owed to them, and each attempt made."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from website.database import UTCDateTime, db, utcnow

__all__ = ["EventStatus", "EventType", "Webhook", "WebhookDelivery", "WebhookEvent"]


class EventType(enum.StrEnum):
    TASK_EXHAUSTED = "task.exhausted"
    TASK_RECOVERED = "task.recovered"
    TASK_STALE = "task.stale"
    DATA_CHANGED = "data.changed"
    PING = "ping"  # POST /webhooks/<id>/test: never subscribed to, always sent


class EventStatus(enum.StrEnum):
    PENDING = "pending"  # owed: next_attempt_at says when
    DELIVERED = "delivered"  # a 2xx answered
    FAILED = "failed"  # every attempt failed: given up


_EVENT_TYPES = ", ".join(f"'{event.value}'" for event in EventType)
_EVENT_STATUSES = ", ".join(f"'{status.value}'" for status in EventStatus)


class Webhook(db.Model):  # type: ignore[name-defined]
    __tablename__ = "webhooks"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    events: Mapped[list[str]] = mapped_column(JSON)  # the event types wanted
    task_ids: Mapped[list[int] | None] = mapped_column(JSON)  # None: every task of the owner
    # The signing key: kept as it is (signing needs it), shown to the owner once, at creation.
    secret: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    description: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def wants(self, event_type: str, task_id: int | None) -> bool:
        """Whether this webhook subscribes to ``event_type`` for ``task_id``."""
        if not self.active or event_type not in self.events:
            return False
        return self.task_ids is None or task_id in self.task_ids

    def __repr__(self) -> str:
        return f"<Webhook {self.id} owner={self.owner_id}>"


class WebhookEvent(db.Model):  # type: ignore[name-defined]
    """The outbox: one event owed to one webhook, written with the change that caused it."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        CheckConstraint(f"type IN ({_EVENT_TYPES})", name="type"),
        CheckConstraint(f"status IN ({_EVENT_STATUSES})", name="status"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        # The tick's scan: owed events by when they are due.
        Index("ix_webhook_events_due", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What receivers see as the event's id: the same on every attempt (their idempotency key).
    event_id: Mapped[str] = mapped_column(String(40), index=True)
    webhook_id: Mapped[int] = mapped_column(
        ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(32))
    # Plain ids: the event outlives a deleted task or a pruned job.
    task_id: Mapped[int | None]
    job_id: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)  # attempts started
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the tick publishes an attempt: until then no other tick publishes it again.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self) -> str:
        return f"<WebhookEvent {self.id} {self.type} webhook={self.webhook_id} {self.status}>"


class WebhookDelivery(db.Model):  # type: ignore[name-defined]
    """One attempt to deliver an event: what the receiver answered, or why it did not."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_webhook_id_id", "webhook_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_row_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True
    )
    attempt: Mapped[int]
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None]
    duration: Mapped[float | None]  # seconds
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(default=False)

    def __repr__(self) -> str:
        return f"<WebhookDelivery {self.id} event={self.event_row_id} #{self.attempt}>"
