"""The scheduler tick: end lost jobs, queue and publish due tasks' jobs, promote overdue jobs,
republish stale ones.

Beat runs it every ``SCHEDULER_TICK_SECONDS`` (``challenge feed`` runs it from the CLI). Lock
order, everywhere: a task's row before its jobs' rows, so that PostgreSQL never deadlocks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import func, select, true

from website.database import read_only_transactions, utcnow
from website.extensions import db
from website.models import Job, JobStatus, Task, WebhookEvent
from website.services import notifications, webhook_delivery
from website.services.claims import claim_due_tasks
from website.services.dispatch import JobMessage, publish_jobs
from website.services.priorities import promote_overdue_jobs, reconcile_cutoff
from website.services.reconciler import mark_lost_jobs, republish_stale_jobs, waiting_since
from website.services.write_turns import write_turn

__all__ = ["TickReport", "tick"]

logger = logging.getLogger(__name__)


@dataclass
class TickReport:
    """What one tick did, for logs and ``challenge feed``."""

    dispatched: list[JobMessage] = field(default_factory=list)
    published: set[int] = field(default_factory=set)
    lost: list[int] = field(default_factory=list)
    republished: list[int] = field(default_factory=list)
    promoted: list[int] = field(default_factory=list)  # overdue: ahead of every priority now
    stale_tasks: list[int] = field(default_factory=list)  # task.stale events written
    deliveries: list[int] = field(default_factory=list)  # webhook events published

    @property
    def unpublished(self) -> int:
        return sum(1 for message in self.dispatched if message.job_id not in self.published)


def tick(now: datetime | None = None) -> TickReport:
    """One scheduler tick: mark lost jobs, dispatch every due task, promote overdue jobs,
    republish stale jobs."""
    now = now or utcnow()
    batch_size = current_app.config["SCHEDULER_BATCH"]
    with read_only_transactions():  # on SQLite a snapshot: idle ticks never hold the write lock
        work = _pending_work(now)
    report = TickReport()
    if work.lost:
        with write_turn():
            report.lost = mark_lost_jobs(now)
    while work.due:
        with write_turn():
            batch = claim_due_tasks(now, batch_size)
        report.dispatched.extend(batch.messages)
        report.published.update(publish_jobs(batch.messages))
        if batch.examined < batch_size:
            break
    if work.stale:
        report.promoted = promote_overdue_jobs(now)
        report.republished = republish_stale_jobs(now)
    if work.stale_tasks:
        report.stale_tasks = notifications.record_stale_tasks(now)
    if work.deliveries or report.stale_tasks:
        report.deliveries = webhook_delivery.publish_due_events(now)
    done = {
        "dispatched": len(report.dispatched),
        "left queued (broker unavailable)": report.unpublished,
        "lost": len(report.lost),
        "republished": len(report.republished),
        "promoted": len(report.promoted),
        "tasks went stale": len(report.stale_tasks),
        "webhook events published": len(report.deliveries),
    }
    if any(done.values()):
        # One line for a tick that did something; idle ticks say nothing.
        logger.info("tick: %s", ", ".join(f"{n} {what}" for what, n in done.items() if n))
    return report


@dataclass(frozen=True)
class PendingWork:
    due: bool  # a task is due
    lost: bool  # a running job's lease ran out
    stale: bool  # a queued job waits for a promotion or a republish
    stale_tasks: bool  # a task went without a success for its stale_after
    deliveries: bool  # a webhook event is due, and the in-flight cap leaves room


def _pending_work(now: datetime) -> PendingWork:
    """One indexed query says what this tick has to do: most ticks have nothing to do."""
    config = current_app.config
    cutoff = reconcile_cutoff(now, config["REQUEUE_AFTER"], config["PRIORITY_MAX_WAIT_SECONDS"])
    # Shaped like the claim (ORDER BY next_run_at LIMIT 1), so that the due index answers it even
    # when the planner's statistics are stale; EXISTS could make PostgreSQL scan every task.
    first_due = (
        select(Task.id)
        .where(Task.enabled == true(), Task.next_run_at <= now)
        .order_by(Task.next_run_at)
        .limit(1)
        .scalar_subquery()
    )
    lost = select(Job.id).where(Job.status == JobStatus.RUNNING, Job.lease_until < now)
    stale = select(Job.id).where(waiting_since(cutoff))
    stale_task = select(Task.id).where(notifications.stale_condition(now))
    due_event = select(WebhookEvent.id).where(webhook_delivery.due_condition(now))
    in_flight = (
        select(func.count(WebhookEvent.id))
        .where(webhook_delivery.in_flight_condition(now))
        .scalar_subquery()
    )
    deliverable = due_event.exists() & (in_flight < current_app.config["WEBHOOK_MAX_IN_FLIGHT"])
    row = db.session.execute(
        select(first_due, lost.exists(), stale.exists(), stale_task.exists(), deliverable)
    ).one()
    db.session.rollback()
    return PendingWork(
        due=row[0] is not None,
        lost=bool(row[1]),
        stale=bool(row[2]),
        stale_tasks=bool(row[3]),
        deliveries=bool(row[4]),
    )
