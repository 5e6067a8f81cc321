"""The beat schedule, in one place."""

from __future__ import annotations

from typing import Any

__all__ = ["beat_schedule"]

CONTROL_PRIORITY = 0  # kombu's Redis transport serves 0 first: ticks go before waiting fetches
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
                "priority": CONTROL_PRIORITY,
            },
        },
        "maintenance-prune": {
            "task": "maintenance.prune",
            "schedule": config["PRUNE_INTERVAL_SECONDS"],
            "options": {
                "expires": config["PRUNE_INTERVAL_SECONDS"],
                "priority": CONTROL_PRIORITY,
            },
        },
    }
