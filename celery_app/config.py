"""Celery's settings, made from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kombu import Exchange, Queue

from celery_app.delivery_queue import WEBHOOK_QUEUE_NAME
from celery_app.queue import CONTROL_QUEUE_NAME, OVERDUE_QUEUE_NAME, PRIORITY_STEPS, QUEUE_NAME

__all__ = ["celery_config"]

VISIBILITY_MARGIN_SECONDS = 300  # redelivery only after the longest possible run, plus margin


def celery_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Celery settings derived from the app's configuration."""
    return {
        "broker_url": config["REDIS_URL"],
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            # Must exceed the longest run, or Redis redelivers a message still being worked on.
            "visibility_timeout": config["MAX_EXECUTION_TIME"] + VISIBILITY_MARGIN_SECONDS,
            "priority_steps": PRIORITY_STEPS,
            # Queues in the order of task_queues, never rotated: beat's tasks, overdue jobs, jobs.
            "queue_order_strategy": "priority",
        },
        "task_default_queue": QUEUE_NAME,
        # A worker started without -Q consumes every queue, in this order: beat's tasks, overdue
        # jobs, webhook deliveries (at most WEBHOOK_MAX_IN_FLIGHT at once, see
        # docs/notifications.md), then fetch jobs.
        "task_queues": [
            _queue(CONTROL_QUEUE_NAME),
            _queue(OVERDUE_QUEUE_NAME),
            _queue(WEBHOOK_QUEUE_NAME),
            _queue(QUEUE_NAME),
        ],
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": config["WORKER_PREFETCH_MULTIPLIER"],
        "worker_hijack_root_logger": False,
        "worker_pool": config["WORKER_POOL"],
        "worker_concurrency": config["WORKER_CONCURRENCY"],
        # A prefork child above this (KiB) after a job is replaced; 0 turns it off.
        "worker_max_memory_per_child": config["WORKER_MAX_MEMORY_PER_CHILD"] or None,
        "timezone": "UTC",
        "enable_utc": True,
    }


def _queue(name: str) -> Queue:
    """A queue as Celery makes its default one: a direct exchange and a routing key of its name."""
    return Queue(name, Exchange(name, type="direct"), routing_key=name)
