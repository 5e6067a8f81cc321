"""The beat schedule, in one place."""

from __future__ import annotations

from typing import Any

__all__ = ["beat_schedule"]


def beat_schedule(config: Any) -> dict[str, dict[str, Any]]:
    """Periodic tasks: the scheduler tick and retention pruning."""
    return {
        "scheduler-tick": {
            "task": "scheduler.tick",
            "schedule": config["SCHEDULER_TICK_SECONDS"],
            "options": {"expires": config["SCHEDULER_TICK_SECONDS"] * 5},
        },
        "maintenance-prune": {
            "task": "maintenance.prune",
            "schedule": config["PRUNE_INTERVAL_SECONDS"],
        },
    }
