"""Celery's settings, made from the app's configuration."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kombu import Queue

from celery_app.delivery_queue import WEBHOOK_QUEUE_NAME
from celery_app.queue import PRIORITY_STEPS, QUEUE_NAME

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
            "queue_order_strategy": "priority",
        },
        "task_default_queue": QUEUE_NAME,
        # A worker started without -Q consumes both: fetch jobs, and webhook deliveries apart
        # (at most WEBHOOK_MAX_IN_FLIGHT of those at once, see docs/notifications.md).
        "task_queues": [Queue(QUEUE_NAME), Queue(WEBHOOK_QUEUE_NAME)],
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
