"""Reading the messages waiting in the broker, as a worker would receive them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import redis

from celery_app.queue import OVERDUE_QUEUE_NAME, QUEUE_NAME

__all__ = ["QueuedMessage", "queued_messages"]

PRIORITY_SEPARATOR = "\x06\x16"  # kombu's Redis transport: "<queue><sep><priority>" per step


@dataclass(frozen=True)
class QueuedMessage:
    task_name: str
    task_id: str  # Celery's id of the message's task
    args: list[Any]
    kwargs: dict[str, Any]
    priority: int  # the broker's priority: 0 is served first
    queue: str  # QUEUE_NAME, or OVERDUE_QUEUE_NAME (served first)
    soft_time_limit: float | None
    time_limit: float | None


def queued_messages(client: redis.Redis, queue: str | None = None) -> list[QueuedMessage]:
    """Every message waiting in the app's job queues (or in ``queue``), over all priority lists."""
    messages = []
    for key in client.scan_iter(match=f"{queue or QUEUE_NAME}*"):
        name = key.decode() if isinstance(key, bytes) else key
        base = name.split(PRIORITY_SEPARATOR, 1)[0]
        if base not in ((QUEUE_NAME, OVERDUE_QUEUE_NAME) if queue is None else (queue,)):
            continue
        for raw in client.lrange(name, 0, -1):
            envelope = json.loads(raw)
            body = json.loads(base64.b64decode(envelope["body"]))
            headers = envelope["headers"]
            hard, soft = headers.get("timelimit") or (None, None)
            messages.append(
                QueuedMessage(
                    task_name=headers["task"],
                    task_id=headers["id"],
                    args=body[0],
                    kwargs=body[1],
                    priority=envelope["properties"].get("priority", 0),
                    queue=base,
                    soft_time_limit=soft,
                    time_limit=hard,
                )
            )
    return messages
