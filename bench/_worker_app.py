"""The worker the end-to-end benchmark starts: the engine's tasks plus a no-op baseline task."""

from __future__ import annotations

from cli.worker_app import celery

__all__ = ["NOOP_TASK", "celery", "noop"]

NOOP_TASK = "bench.noop"


@celery.task(name=NOOP_TASK, ignore_result=True)
def noop(number: int) -> None:
    """Nothing at all: the baseline's unit of work (same worker, same app context per task)."""
