"""Thin task wrappers: each body is one service call (FlaskTask runs it in an app context)."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from website.services import executor, retention, scheduler, webhook_delivery

__all__ = ["deliver_webhook", "prune", "run_job", "tick"]


@shared_task(name="scheduler.tick", ignore_result=True)
def tick() -> None:
    """Mark lost jobs, dispatch due tasks, republish stale jobs."""
    scheduler.tick()


@shared_task(name="fetch.run_job", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def run_job(job_id: int, deadline: float) -> None:
    """Run one queued job (a duplicate delivery does nothing); ``deadline`` from its message.

    The soft time limit (a prefork worker's backstop behind the fetch's own deadline) may
    interrupt the job anywhere, even while it stores its records: the job then ends timed out
    at once, rather than lost when its lease runs out. The same exception interrupts a job that
    was cancelled (``celery_app/control.py``): ``record_timeout`` then finds it no longer
    running and leaves it ``cancelled``.
    """
    try:
        executor.run_job(job_id, deadline, interrupts=(SoftTimeLimitExceeded,))
    except SoftTimeLimitExceeded:
        executor.record_timeout(job_id, deadline)


@shared_task(name="maintenance.prune", ignore_result=True)
def prune() -> None:
    """Delete jobs and data beyond the retention limit, in small batches."""
    retention.prune()


@shared_task(
    name="webhooks.deliver", ignore_result=True, acks_late=True, reject_on_worker_lost=True
)
def deliver_webhook(event_row_id: int, attempt: int) -> None:
    """Make one attempt to deliver a webhook event (a duplicate message does nothing)."""
    webhook_delivery.deliver(event_row_id, attempt)
