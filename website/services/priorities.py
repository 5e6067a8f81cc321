"""Priorities that cannot starve: a job that waited past the bound goes before every priority.

A job is served by its task's priority (9 first) until it has waited ``PRIORITY_MAX_WAIT_SECONDS``
since it was queued (or last published). Then the tick publishes it again as *overdue*: the queue
serves overdue jobs before every other, oldest first, so a flood of urgent jobs delays a
low-priority one by the bound, plus a tick, plus the overdue jobs older than it. The job's first
message stays where it was; whichever message a worker takes first runs the job, the other finds
it no longer queued and does nothing (the executor's conditional claim). docs/engine.md,
"Priorities".
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from flask import current_app

from website.services.dispatch import job_queue, publish_jobs
from website.services.reconciler import take_waiting_jobs
from website.services.write_turns import write_turn

__all__ = ["overdue_cutoff", "promote_overdue_jobs", "reconcile_cutoff"]

logger = logging.getLogger(__name__)


def overdue_cutoff(now: datetime, max_wait: float) -> datetime | None:
    """A queued job last published (or queued) at or before this is overdue; None: aging is off."""
    if max_wait <= 0:
        return None
    return now - timedelta(seconds=max_wait)


def reconcile_cutoff(now: datetime, requeue_after: float, max_wait: float) -> datetime:
    """The latest of the two cutoffs: a queued job waiting since before it needs the tick's care
    (a republish after ``requeue_after``, or a promotion after ``max_wait``)."""
    requeue = now - timedelta(seconds=requeue_after)
    overdue = overdue_cutoff(now, max_wait)
    return requeue if overdue is None else max(requeue, overdue)


def promote_overdue_jobs(now: datetime) -> list[int]:
    """Publish again, as overdue, the queued jobs that waited past ``PRIORITY_MAX_WAIT_SECONDS``.

    Only while no overdue message waits: the jobs promoted before still go first, and a job still
    queued once the overdue queue has drained lost its overdue message (or a worker holds it
    reserved) and gets another. So a job has at most one overdue message waiting at a time.
    """
    cutoff = overdue_cutoff(now, current_app.config["PRIORITY_MAX_WAIT_SECONDS"])
    if cutoff is None or job_queue().overdue_backlog() != 0:
        return []
    with write_turn():
        messages = take_waiting_jobs(now, cutoff, overdue=True)
    published = publish_jobs(messages, measure_lag=False)
    if published:
        logger.info("promoted %s overdue jobs ahead of every priority", len(published))
    return published
