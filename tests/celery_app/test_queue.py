"""The job queue on Celery and Redis: what a published message carries, and the queue's depth."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import redis
from flask import Flask

from celery_app.delivery_queue import WEBHOOK_QUEUE_NAME
from celery_app.queue import CONTROL_QUEUE_NAME, OVERDUE_QUEUE_NAME, QUEUE_NAME
from tests.support.broker import queued_messages
from website import create_app
from website.services.dispatch import JobMessage, job_queue


def message(
    job_id: int, priority: int = 5, deadline: float = 7.0, overdue: bool = False
) -> JobMessage:
    return JobMessage(job_id, 1, priority, datetime.now(UTC), deadline, overdue)


@pytest.mark.parametrize(("task_priority", "broker_priority"), [(9, 0), (5, 4), (0, 9)])
def test_a_published_job_carries_its_deadline_time_limits_and_reversed_priority(
    app: Flask, redis_client: redis.Redis, task_priority: int, broker_priority: int
) -> None:
    assert job_queue().publish([message(41, task_priority, deadline=7.0)]) == [41]

    [sent] = queued_messages(redis_client)
    assert (sent.task_name, sent.args, sent.kwargs) == ("fetch.run_job", [41], {"deadline": 7.0})
    assert sent.priority == broker_priority  # kombu's Redis transport serves 0 first
    assert (sent.soft_time_limit, sent.time_limit) == (8.0, 11.0)  # backstops after the deadline


def test_the_backlog_counts_the_messages_waiting_at_every_priority(app: Flask) -> None:
    assert job_queue().backlog() == 0

    job_queue().publish([message(job_id, priority) for job_id, priority in enumerate((0, 4, 9, 9))])

    assert job_queue().backlog() == 4


def test_an_overdue_job_goes_to_the_overdue_queue_whatever_its_priority(
    app: Flask, redis_client: redis.Redis
) -> None:
    job_queue().publish([message(1, 9), message(2, 0, overdue=True), message(3, 9, overdue=True)])

    sent = {m.args[0]: (m.queue, m.priority) for m in queued_messages(redis_client)}
    assert sent == {1: (QUEUE_NAME, 0), 2: (OVERDUE_QUEUE_NAME, 0), 3: (OVERDUE_QUEUE_NAME, 0)}
    assert (job_queue().backlog(), job_queue().overdue_backlog()) == (3, 2)


def test_an_unreachable_broker_publishes_nothing_and_cannot_say_its_backlog(
    test_environment: dict[str, str],
) -> None:
    broker_down = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:9/0"})
    with broker_down.app_context():
        assert job_queue().publish([message(1), message(2)]) == []
        assert job_queue().backlog() is None
        assert job_queue().overdue_backlog() is None


def test_every_message_of_a_job_carries_the_jobs_own_task_id(
    app: Flask, redis_client: redis.Redis
) -> None:
    job_queue().publish([message(41), message(42)])
    job_queue().publish([message(41)])  # a republished copy

    sent = sorted((m.args[0], m.task_id) for m in queued_messages(redis_client))

    assert sent == [(41, "job-41"), (41, "job-41"), (42, "job-42")]


def test_an_unreachable_broker_abandons_nothing_and_does_not_raise(
    test_environment: dict[str, str],
) -> None:
    broker_down = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:9/0"})
    with broker_down.app_context():
        job_queue().abandon(1)


def test_workers_consume_beats_tasks_overdue_jobs_webhooks_then_jobs_in_that_order(
    app: Flask,
) -> None:
    celery = app.extensions["celery"]

    assert [queue.name for queue in celery.conf.task_queues] == [
        CONTROL_QUEUE_NAME,
        OVERDUE_QUEUE_NAME,
        WEBHOOK_QUEUE_NAME,
        QUEUE_NAME,
    ]
    assert celery.conf.broker_transport_options["queue_order_strategy"] == "priority"
    assert {entry["options"]["queue"] for entry in celery.conf.beat_schedule.values()} == {
        CONTROL_QUEUE_NAME
    }


def test_beats_messages_are_not_counted_as_waiting_jobs(app: Flask) -> None:
    celery = app.extensions["celery"]
    for entry in celery.conf.beat_schedule.values():
        celery.send_task(entry["task"], **entry["options"])

    assert (job_queue().backlog(), job_queue().overdue_backlog()) == (0, 0)
