"""Reading the messages waiting in the broker, as a worker would receive them."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import redis

from celery_app.queue import QUEUE_NAME

__all__ = ["QueuedMessage", "queued_messages"]

PRIORITY_SEPARATOR = "\x06\x16"  # kombu's Redis transport: "<queue><sep><priority>" per step


@dataclass(frozen=True)
class QueuedMessage:
    task_name: str
    args: list[Any]
    kwargs: dict[str, Any]
    priority: int  # the broker's priority: 0 is served first
    soft_time_limit: float | None
    time_limit: float | None


def queued_messages(client: redis.Redis, queue: str = QUEUE_NAME) -> list[QueuedMessage]:
    """Every message waiting in the app's queue (or ``queue``), over all priority lists."""
    messages = []
    for key in client.scan_iter(match=f"{queue}*"):
        name = key.decode() if isinstance(key, bytes) else key
        if name != queue and not name.startswith(queue + PRIORITY_SEPARATOR):
            continue
        for raw in client.lrange(name, 0, -1):
            envelope = json.loads(raw)
            body = json.loads(base64.b64decode(envelope["body"]))
            headers = envelope["headers"]
            hard, soft = headers.get("timelimit") or (None, None)
            messages.append(
                QueuedMessage(
                    task_name=headers["task"],
                    args=body[0],
                    kwargs=body[1],
                    priority=envelope["properties"].get("priority", 0),
                    soft_time_limit=soft,
                    time_limit=hard,
                )
            )
    return messages
