"""The schedule grid: a task's runs fall on ``start_time + k * task_interval``."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

__all__ = ["first_run_at", "next_slot_after"]


def next_slot_after(start_time: datetime, interval: int, after: datetime) -> datetime:
    """The first grid slot strictly after ``after`` (the start itself when it is later)."""
    if after < start_time:
        return start_time
    elapsed = (after - start_time).total_seconds()
    slots = math.floor(elapsed / interval) + 1
    return start_time + timedelta(seconds=slots * interval)


def first_run_at(start_time: datetime, now: datetime) -> datetime:
    """When a new (or rescheduled) task first runs: at its start, or now if that has passed."""
    return max(start_time, now)
