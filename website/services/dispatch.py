"""Publishing queued jobs to the workers, only after the transaction that queued them committed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kombu.exceptions import KombuError
from redis.exceptions import RedisError
from sqlalchemy import update

from website.database import utcnow
from website.extensions import db
from website.messaging import QUEUE_NAME, get_celery
from website.metrics import record_dispatch
from website.models import Job
from website.redis_client import get_redis
from website.services.write_turns import write_turn

__all__ = ["RUN_JOB_TASK", "JobMessage", "broker_backlog", "broker_priority", "publish_jobs"]

logger = logging.getLogger(__name__)

RUN_JOB_TASK = "fetch.run_job"  # the worker's task name; the publisher never imports its body
MOST_URGENT_TASK_PRIORITY = 9  # a task's priority runs 0..9, 9 = most urgent
PUBLISH_BATCH_SIZE = 500  # Redis commands buffered in one pipeline before a round trip
SOFT_LIMIT_MARGIN_SECONDS = 1  # the fetch's own deadline fires first; Celery's limit is a backstop
HARD_LIMIT_MARGIN_SECONDS = 3  # beyond the soft limit, a prefork child is killed
# Broker errors that mean "not published now": the job stays queued and the reconciler retries.
PUBLISH_ERRORS = (KombuError, RedisError, OSError)
# kombu's Redis transport keeps one list per priority step: "<queue>", then "<queue>\x06\x16<n>".
PRIORITY_LIST_SEPARATOR = "\x06\x16"
BROKER_PRIORITY_STEPS = range(10)  # messaging.py's priority_steps


@dataclass(frozen=True)
class JobMessage:
    """What a worker needs to run one queued job, and what the publisher measures."""

    job_id: int
    task_id: int
    priority: int  # the task's priority, 9 = most urgent
    due_at: datetime  # the slot the job runs for (dispatch lag is measured from it)
    deadline: float  # seconds the fetch may take


def broker_priority(task_priority: int) -> int:
    """kombu's Redis transport serves priority 0 first, so the scale is reversed."""
    return MOST_URGENT_TASK_PRIORITY - task_priority


def publish_jobs(messages: Sequence[JobMessage], measure_lag: bool = True) -> list[int]:
    """Publish ``fetch.run_job`` for each message; return the ids that reached the broker.

    Messages are pipelined to Redis in batches. When the broker is unreachable the rest is left
    alone: those jobs stay queued (``published_at`` unset) and the reconciler publishes them later.
    ``measure_lag`` observes the delay from each job's slot (not for republished jobs).
    """
    if not messages:
        return []
    celery = get_celery()
    published: list[int] = []
    try:
        with celery.producer_or_acquire() as producer:
            # Declared once here, not once per message (with Redis it only records a binding).
            producer.maybe_declare(celery.amqp.default_queue)
            for start in range(0, len(messages), PUBLISH_BATCH_SIZE):
                chunk = messages[start : start + PUBLISH_BATCH_SIZE]
                with producer.batch(max_size=PUBLISH_BATCH_SIZE):
                    for message in chunk:
                        celery.send_task(
                            RUN_JOB_TASK,
                            args=[message.job_id],
                            # The deadline the time limits below are made from: the worker's
                            # claim then needs no read of the task first.
                            kwargs={"deadline": message.deadline},
                            priority=broker_priority(message.priority),
                            soft_time_limit=message.deadline + SOFT_LIMIT_MARGIN_SECONDS,
                            time_limit=message.deadline
                            + SOFT_LIMIT_MARGIN_SECONDS
                            + HARD_LIMIT_MARGIN_SECONDS,
                            producer=producer,
                            retry=False,
                            declare=[],
                            # Given, so that Celery does not build them with saferepr each time.
                            argsrepr=f"[{message.job_id}]",
                            kwargsrepr=f"{{'deadline': {message.deadline!r}}}",
                        )
                published.extend(message.job_id for message in chunk)
                if measure_lag:
                    _record_lags(chunk)
    except PUBLISH_ERRORS as error:
        logger.warning(
            "broker unavailable, %s of %s jobs left queued for the reconciler: %s",
            len(messages) - len(published),
            len(messages),
            error,
        )
    _mark_published(published)
    return published


def broker_backlog() -> int | None:
    """Messages waiting in the broker's queue (None when Redis cannot say)."""
    names = [
        QUEUE_NAME if step == 0 else f"{QUEUE_NAME}{PRIORITY_LIST_SEPARATOR}{step}"
        for step in BROKER_PRIORITY_STEPS
    ]
    try:
        with get_redis().pipeline(transaction=False) as pipeline:
            for name in names:
                pipeline.llen(name)
            return sum(int(length) for length in pipeline.execute())
    except RedisError:
        return None


def _record_lags(messages: Sequence[JobMessage]) -> None:
    now = utcnow()
    for message in messages:
        record_dispatch((now - message.due_at).total_seconds())


def _mark_published(job_ids: list[int]) -> None:
    if not job_ids:
        return
    with write_turn():
        _set_published_at(job_ids)


def _set_published_at(job_ids: list[int]) -> None:
    db.session.execute(
        update(Job)
        .where(Job.id.in_(job_ids))
        .values(published_at=utcnow())
        .execution_options(synchronize_session="evaluate")
    )
    db.session.commit()
