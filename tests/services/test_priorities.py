"""Aging, in process: which queued jobs the tick promotes ahead of every priority, and when."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask

from celery_app.queue import OVERDUE_QUEUE_NAME, QUEUE_NAME
from tests.support.broker import queued_messages
from tests.support.rows import jobs_of, set_job
from website.models import Job, JobStatus, Task
from website.services.manual_runs import run_task_now
from website.services.priorities import overdue_cutoff, promote_overdue_jobs, reconcile_cutoff
from website.services.scheduler import tick

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def test_a_job_is_overdue_once_it_waited_the_bound_and_zero_turns_aging_off() -> None:
    assert overdue_cutoff(NOW, 2) == NOW - timedelta(seconds=2)
    assert overdue_cutoff(NOW, 0.5) == NOW - timedelta(seconds=0.5)
    assert overdue_cutoff(NOW, 0) is None


@pytest.mark.parametrize(
    ("requeue_after", "max_wait", "waited"),
    [(30, 60, 30), (30, 5, 5), (30, 0, 30), (2, 2, 2)],
)
def test_the_tick_looks_for_jobs_waiting_since_the_nearer_of_its_two_cutoffs(
    requeue_after: int, max_wait: int, waited: int
) -> None:
    assert reconcile_cutoff(NOW, requeue_after, max_wait) == NOW - timedelta(seconds=waited)


@pytest.fixture
def max_wait(app: Flask) -> float:
    app.config["PRIORITY_MAX_WAIT_SECONDS"] = 5.0
    app.config["REQUEUE_AFTER"] = 30
    return 5.0


def queued_for(job: Job, seconds: float) -> None:
    """As if the job had been queued and published ``seconds`` ago."""
    long_ago = datetime.now(UTC) - timedelta(seconds=seconds)
    set_job(job.id, queued_at=long_ago, published_at=long_ago)


def overdue_in_served_order(client: redis.Redis) -> list[int]:
    """Job ids in the overdue queue, first served first (kombu pushes left and pops right)."""
    waiting = [m.args[0] for m in queued_messages(client) if m.queue == OVERDUE_QUEUE_NAME]
    return list(reversed(waiting))


def test_the_tick_promotes_the_jobs_waiting_past_the_bound_oldest_first(
    make_task: Callable[..., Task], redis_client: redis.Redis, max_wait: float
) -> None:
    tasks = {name: make_task(name=name, priority=p) for name, p in (("a", 0), ("b", 5), ("c", 9))}
    jobs = {name: run_task_now(task.id) for name, task in tasks.items()}
    fresh = run_task_now(make_task(name="fresh", priority=0).id)
    queued_for(jobs["b"], max_wait + 30)
    queued_for(jobs["a"], max_wait + 20)
    queued_for(jobs["c"], max_wait + 10)

    report = tick()

    assert sorted(report.promoted) == sorted(job.id for job in jobs.values())
    assert overdue_in_served_order(redis_client) == [jobs["b"].id, jobs["a"].id, jobs["c"].id]
    overdue = [m for m in queued_messages(redis_client) if m.queue == OVERDUE_QUEUE_NAME]
    assert {m.priority for m in overdue} == {0}
    # Their first messages stay where they were (a delivery of one later is a no-op), and a job
    # that has not waited the bound keeps only its own.
    first = [m.args[0] for m in queued_messages(redis_client) if m.queue == QUEUE_NAME]
    assert sorted(first) == sorted([fresh.id, *(job.id for job in jobs.values())])
    assert report.republished == []  # REQUEUE_AFTER (30 s) is not reached by the fresh one


def test_a_job_is_promoted_once_while_its_overdue_message_waits(
    make_task: Callable[..., Task], redis_client: redis.Redis, max_wait: float
) -> None:
    job = run_task_now(make_task(priority=0).id)
    queued_for(job, max_wait + 1)
    assert tick().promoted == [job.id]

    later = datetime.now(UTC) + timedelta(seconds=max_wait + 1)
    other = run_task_now(make_task(name="other", priority=0).id)
    queued_for(other, max_wait + 1)

    # Both have waited past the bound now, but an overdue message still waits: it goes first,
    # and the other is promoted once it has been taken.
    assert promote_overdue_jobs(later) == []
    redis_client.delete(OVERDUE_QUEUE_NAME)  # a worker took it (or it was lost)
    assert sorted(promote_overdue_jobs(later)) == sorted([job.id, other.id])
    assert len(overdue_in_served_order(redis_client)) == 2


def test_strict_priorities_when_the_bound_is_zero(
    app: Flask, make_task: Callable[..., Task], redis_client: redis.Redis
) -> None:
    app.config["PRIORITY_MAX_WAIT_SECONDS"] = 0.0
    job = run_task_now(make_task(priority=0).id)
    queued_for(job, 20)  # under REQUEUE_AFTER (30 s), far over any bound

    report = tick()

    assert (report.promoted, report.republished) == ([], [])
    assert overdue_in_served_order(redis_client) == []
    assert jobs_of(job.task_id)[0].published_at is not None


def test_a_started_job_is_never_promoted(
    make_task: Callable[..., Task], redis_client: redis.Redis, max_wait: float
) -> None:
    job = run_task_now(make_task(priority=0).id)
    queued_for(job, max_wait + 1)
    set_job(job.id, status=JobStatus.RUNNING, lease_until=datetime.now(UTC) + timedelta(hours=1))

    assert tick().promoted == []
    assert overdue_in_served_order(redis_client) == []
