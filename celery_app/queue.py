"""The job queue on Celery and Redis: ``fetch.run_job`` messages by name, and the queue's depth."""

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
    "PRIORITY_STEPS",
    "QUEUE_NAME",
    "RUN_JOB_TASK",
    "CeleryJobQueue",
    "broker_priority",
    "job_task_id",
    "queue_lists",
]

logger = logging.getLogger(__name__)

QUEUE_NAME = "challenge"
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


def queue_lists() -> list[str]:
    """The Redis lists behind the queue: kombu keeps ``<queue>``, then one per priority step."""
    return [
        QUEUE_NAME if step == 0 else f"{QUEUE_NAME}{Channel.sep}{step}" for step in PRIORITY_STEPS
    ]


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
            priority=broker_priority(message.priority),
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
        """Messages waiting in every priority list of the queue (None when Redis cannot say)."""
        try:
            with get_redis().pipeline(transaction=False) as pipeline:
                for name in queue_lists():
                    pipeline.llen(name)
                return sum(int(length) for length in pipeline.execute())
        except RedisError:
            return None
