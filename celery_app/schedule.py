"""The beat schedule, in one place."""

from __future__ import annotations

from typing import Any

from celery_app.queue import CONTROL_QUEUE_NAME

__all__ = ["beat_schedule"]

# Ticks and prunes go to a queue of their own, consumed first: they never wait behind jobs (not
# even behind overdue ones, which only ticks promote); there, at priority 0 (served first).
CONTROL_PRIORITY = 0
TICK_EXPIRY_TICKS = 5  # a tick not started within 5 periods is dropped: a newer one covers it


def beat_schedule(config: Any) -> dict[str, dict[str, Any]]:
    """Periodic tasks: the scheduler tick and retention pruning."""
    tick_seconds = config["SCHEDULER_TICK_SECONDS"]
    return {
        "scheduler-tick": {
            "task": "scheduler.tick",
            "schedule": tick_seconds,
            "options": {
                "expires": tick_seconds * TICK_EXPIRY_TICKS,
                "queue": CONTROL_QUEUE_NAME,
                "priority": CONTROL_PRIORITY,
            },
        },
        "maintenance-prune": {
            "task": "maintenance.prune",
            "schedule": config["PRUNE_INTERVAL_SECONDS"],
            "options": {
                "expires": config["PRUNE_INTERVAL_SECONDS"],
                "queue": CONTROL_QUEUE_NAME,
                "priority": CONTROL_PRIORITY,
            },
        },
    }
