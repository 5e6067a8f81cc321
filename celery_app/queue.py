"""The job queue on Celery and Redis: ``fetch.run_job`` messages by name, and the queue's depth.

Three Redis queues, consumed in this order (``queue_order_strategy="priority"`` keeps the order of
``task_queues``, and kombu's BRPOP names, for each priority step, the queues in that order):
``challenge.control`` holds beat's ticks and prunes, so that they never wait behind jobs;
``challenge.overdue`` the jobs that waited past ``PRIORITY_MAX_WAIT_SECONDS`` (published again
there by the tick), so that they go before every job that has not waited as long; ``challenge``
every job at its task's priority.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from celery import Celery
from kombu.exceptions import KombuError
from kombu.transport.redis import Channel
from redis.exceptions import RedisError

from website.redis_client import get_redis
from website.services.dispatch import JobMessage

__all__ = [
    "ABANDON_JOB_COMMAND",
    "CONTROL_QUEUE_NAME",
    "OVERDUE_QUEUE_NAME",
    "PRIORITY_STEPS",
    "QUEUE_NAME",
    "RUN_JOB_TASK",
    "CeleryJobQueue",
    "broker_priority",
    "job_task_id",
    "overdue_lists",
    "queue_lists",
]

logger = logging.getLogger(__name__)

QUEUE_NAME = "challenge"
OVERDUE_QUEUE_NAME = f"{QUEUE_NAME}.overdue"  # consumed before QUEUE_NAME (celery_app/config.py)
CONTROL_QUEUE_NAME = f"{QUEUE_NAME}.control"  # beat's tasks, consumed before both
OVERDUE_BROKER_PRIORITY = 0  # one list: overdue jobs run in the order they were promoted
RUN_JOB_TASK = "fetch.run_job"  # the worker's task name; the publisher never imports its body
ABANDON_JOB_COMMAND = "abandon_job"  # the workers' remote control command (celery_app/control.py)
PRIORITY_STEPS = list(range(10))  # one Redis list per broker priority, 0..9
MOST_URGENT_TASK_PRIORITY = 9  # a task's priority runs 0..9, 9 = most urgent
PUBLISH_BATCH_SIZE = 500  # Redis commands buffered in one pipeline before a round trip
SOFT_LIMIT_MARGIN_SECONDS = 1  # the fetch's own deadline fires first; Celery's limit is a backstop
HARD_LIMIT_MARGIN_SECONDS = 3  # beyond the soft limit, a prefork child is killed
# Broker errors that mean "not published now": the job stays queued and the reconciler retries.
PUBLISH_ERRORS = (KombuError, RedisError, OSError)


def broker_priority(task_priority: int) -> int:
    """kombu's Redis transport serves priority 0 first, so the scale is reversed."""
    return MOST_URGENT_TASK_PRIORITY - task_priority


def job_task_id(job_id: int) -> str:
    """The Celery task id of a job's messages: fixed per job, so a worker can find its run."""
    return f"job-{job_id}"


def _lists_of(queue: str) -> list[str]:
    """kombu keeps ``<queue>`` for priority step 0, then ``<queue><sep><step>`` for the others."""
    return [queue if step == 0 else f"{queue}{Channel.sep}{step}" for step in PRIORITY_STEPS]


def overdue_lists() -> list[str]:
    """The Redis lists behind the overdue queue."""
    return _lists_of(OVERDUE_QUEUE_NAME)


def queue_lists() -> list[str]:
    """The Redis lists behind both job queues: every job message waiting for a worker."""
    return _lists_of(QUEUE_NAME) + overdue_lists()


class CeleryJobQueue:
    """``website.services.dispatch.JobQueue`` on a Celery app whose broker is Redis."""

    def __init__(self, celery: Celery) -> None:
        self.celery = celery

    def publish(self, messages: Sequence[JobMessage]) -> list[int]:
        """Pipeline the messages to Redis in batches; stop at the first broker error."""
        published: list[int] = []
        try:
            with self.celery.producer_or_acquire() as producer:
                # Declared once here, not once per message (with Redis it only records a binding).
                producer.maybe_declare(self.celery.amqp.default_queue)
                if any(message.overdue for message in messages):
                    producer.maybe_declare(self.celery.amqp.queues[OVERDUE_QUEUE_NAME])
                for start in range(0, len(messages), PUBLISH_BATCH_SIZE):
                    chunk = messages[start : start + PUBLISH_BATCH_SIZE]
                    with producer.batch(max_size=PUBLISH_BATCH_SIZE):
                        for message in chunk:
                            self._send(message, producer)
                    published.extend(message.job_id for message in chunk)
        except PUBLISH_ERRORS as error:
            logger.warning(
                "broker unavailable, %s of %s jobs left queued for the reconciler: %s",
                len(messages) - len(published),
                len(messages),
                error,
            )
        return published

    def _send(self, message: JobMessage, producer: object) -> None:
        soft_limit = message.deadline + SOFT_LIMIT_MARGIN_SECONDS
        self.celery.send_task(
            RUN_JOB_TASK,
            args=[message.job_id],
            task_id=job_task_id(message.job_id),
            kwargs={"deadline": message.deadline},
            queue=OVERDUE_QUEUE_NAME if message.overdue else None,  # None: the default queue
            priority=(
                OVERDUE_BROKER_PRIORITY if message.overdue else broker_priority(message.priority)
            ),
            soft_time_limit=soft_limit,
            time_limit=soft_limit + HARD_LIMIT_MARGIN_SECONDS,
            producer=producer,
            retry=False,
            declare=[],
            # Given, so that Celery does not build them with saferepr for each message.
            argsrepr=f"[{message.job_id}]",
            kwargsrepr=f"{{'deadline': {message.deadline!r}}}",
        )

    def abandon(self, job_id: int) -> None:
        """Broadcast ``abandon_job``: the worker running the job interrupts it (prefork only)."""
        try:
            self.celery.control.broadcast(ABANDON_JOB_COMMAND, arguments={"job_id": job_id})
        except PUBLISH_ERRORS as error:
            logger.warning(
                "broker unavailable, the run of a cancelled job is not interrupted: %s",
                error,
                extra={"job_id": job_id},
            )

    def backlog(self) -> int | None:
        """Messages waiting in every list of both queues (None when Redis cannot say)."""
        return _total_length(queue_lists())

    def overdue_backlog(self) -> int | None:
        """Messages waiting in the overdue queue (None when Redis cannot say)."""
        return _total_length(overdue_lists())


def _total_length(lists: list[str]) -> int | None:
    try:
        with get_redis().pipeline(transaction=False) as pipeline:
            for name in lists:
                pipeline.llen(name)
            return sum(int(length) for length in pipeline.execute())
    except RedisError:
        return None
