"""The scheduler tick, in process: claiming, the grid, the window, batching and the reconciler."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import redis
from flask import Flask

from tests.support.broker import queued_messages
from tests.support.rows import jobs_of, set_job, set_task, task_row
from website.extensions import db
from website.models import JobStatus, Task
from website.services.manual_runs import run_task_now
from website.services.reconciler import mark_lost_jobs, republish_stale_jobs
from website.services.scheduler import tick


@pytest.fixture
def now() -> datetime:
    """The tick's clock: the real time, so that it agrees with timestamps the services take."""
    return datetime.now(UTC)


def test_dispatches_a_due_task_once_and_moves_it_to_its_next_grid_slot(
    make_task: Callable[..., Task], now: datetime, redis_client: redis.Redis
) -> None:
    start = now - timedelta(seconds=25)
    task = make_task(start_time=start, task_interval=10, priority=9)
    set_task(task.id, next_run_at=now - timedelta(seconds=5))

    report = tick(now)

    [job] = jobs_of(task.id)
    assert (job.status, job.trigger, job.scheduled_for) == (
        JobStatus.QUEUED,
        "schedule",
        now - timedelta(seconds=5),
    )
    assert report.published == {job.id}
    stored = task_row(task.id)
    assert stored.next_run_at == start + timedelta(seconds=30)  # the first slot after now
    [message] = queued_messages(redis_client)
    assert (message.args, message.priority) == ([job.id], 0)
    assert message.soft_time_limit is not None  # a backstop for prefork workers


def test_coalesces_missed_slots_into_one_run(make_task: Callable[..., Task], now: datetime) -> None:
    start = now - timedelta(hours=1)
    task = make_task(start_time=start, task_interval=60)
    set_task(task.id, next_run_at=start)  # 60 slots missed, e.g. while every worker was down

    tick(now)
    tick(now + timedelta(seconds=1))

    assert len(jobs_of(task.id)) == 1
    stored = task_row(task.id)
    assert stored.next_run_at == now + timedelta(seconds=60)


def test_runs_a_slot_that_is_late_by_less_than_a_second_instead_of_skipping_it(
    make_task: Callable[..., Task], now: datetime
) -> None:
    start = now - timedelta(seconds=10.5)
    task = make_task(start_time=start, task_interval=1)
    set_task(task.id, next_run_at=start + timedelta(seconds=9))  # claimed 1.5 s late

    tick(now)

    assert [job.scheduled_for for job in jobs_of(task.id)] == [start + timedelta(seconds=9)]
    # The slot at 10 s is due by 0.5 s: late, not missed.
    assert task_row(task.id).next_run_at == start + timedelta(seconds=10)


def test_skips_the_slot_of_a_task_whose_previous_run_is_unfinished(
    make_task: Callable[..., Task], now: datetime, redis_client: redis.Redis
) -> None:
    task = make_task(start_time=now - timedelta(seconds=10), task_interval=5)
    first = run_task_now(task.id)
    set_job(first.id, status=JobStatus.RUNNING, lease_until=now + timedelta(minutes=5))
    set_task(task.id, next_run_at=now)

    report = tick(now)

    assert report.dispatched == []
    assert [job.id for job in jobs_of(task.id)] == [first.id]
    stored = task_row(task.id)
    assert stored.next_run_at == now + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("window", "expected_next_run"),
    [
        pytest.param((30, None), 30, id="pending"),
        pytest.param((-7200, -3600), None, id="expired"),
    ],
)
def test_runs_nothing_outside_the_window(
    make_task: Callable[..., Task],
    now: datetime,
    window: tuple[int, int | None],
    expected_next_run: int | None,
) -> None:
    start, end = (None if offset is None else now + timedelta(seconds=offset) for offset in window)
    assert start is not None
    task = make_task(start_time=start, end_time=end, task_interval=10)
    set_task(task.id, next_run_at=min(start, now))  # claimable by the due query

    report = tick(now)

    assert report.dispatched == []
    assert jobs_of(task.id) == []
    stored = task_row(task.id)
    expected = None if expected_next_run is None else now + timedelta(seconds=expected_next_run)
    assert stored.next_run_at == expected


def test_plans_no_run_at_or_after_the_end_of_the_window(
    make_task: Callable[..., Task], now: datetime
) -> None:
    task = make_task(
        start_time=now - timedelta(seconds=20),
        end_time=now + timedelta(seconds=10),
        task_interval=10,
    )
    set_task(task.id, next_run_at=now)

    tick(now)

    assert len(jobs_of(task.id)) == 1  # the slot at now; the next one (now + 10 s) is the end
    stored = task_row(task.id)
    assert stored.next_run_at is None


@pytest.mark.parametrize(
    "values",
    [pytest.param({"enabled": False}, id="paused"), pytest.param({"attempt": 3}, id="exhausted")],
)
def test_dispatches_nothing_for_a_paused_or_exhausted_task(
    make_task: Callable[..., Task], now: datetime, values: dict[str, object]
) -> None:
    task = make_task(start_time=now - timedelta(seconds=20), max_attempt=3)
    set_task(task.id, next_run_at=now, **values)

    report = tick(now)

    assert report.dispatched == []
    assert jobs_of(task.id) == []


def test_dispatches_every_due_task_in_several_batches(
    app: Flask, make_task: Callable[..., Task], now: datetime, redis_client: redis.Redis
) -> None:
    app.config["SCHEDULER_BATCH"] = 3
    tasks = [make_task(start_time=now - timedelta(seconds=1)) for _ in range(8)]
    for task in tasks:
        set_task(task.id, next_run_at=now)

    report = tick(now)

    assert sorted(message.task_id for message in report.dispatched) == [t.id for t in tasks]
    assert len(queued_messages(redis_client)) == 8


def test_marks_a_running_job_past_its_lease_lost_and_retries_its_task_after_a_backoff(
    make_task: Callable[..., Task],
    now: datetime,
) -> None:
    task = make_task(start_time=now - timedelta(minutes=1), task_interval=60, max_attempt=3)
    job = run_task_now(task.id)
    set_job(job.id, status=JobStatus.RUNNING, lease_until=now - timedelta(seconds=1))

    lost = mark_lost_jobs(now)

    assert lost == [job.id]
    [stored_job] = jobs_of(task.id)
    assert stored_job.status == JobStatus.LOST
    assert "lease" in (stored_job.error or "")
    stored = task_row(task.id)
    assert (stored.attempt, stored.last_execution_status) == (1, JobStatus.LOST)
    assert stored.next_run_at is not None
    assert timedelta(seconds=1) <= stored.next_run_at - datetime.now(UTC) + timedelta(
        milliseconds=200
    )
    assert stored.next_run_at - datetime.now(UTC) <= timedelta(seconds=1.2)


def test_leaves_a_running_job_within_its_lease_alone(
    make_task: Callable[..., Task], now: datetime
) -> None:
    task = make_task()
    job = run_task_now(task.id)
    set_job(job.id, status=JobStatus.RUNNING, lease_until=now + timedelta(seconds=1))

    assert mark_lost_jobs(now) == []
    assert jobs_of(task.id)[0].status == JobStatus.RUNNING


def test_republishes_a_queued_job_nobody_started_within_requeue_after(
    app: Flask, make_task: Callable[..., Task], now: datetime, redis_client: redis.Redis
) -> None:
    stale, fresh = make_task(name="stale"), make_task(name="fresh")
    old_job = run_task_now(stale.id)
    new_job = run_task_now(fresh.id)
    redis_client.flushdb()  # both messages are lost
    now = datetime.now(UTC)
    long_ago = now - timedelta(seconds=app.config["REQUEUE_AFTER"] + 1)
    set_job(old_job.id, queued_at=long_ago, published_at=long_ago)

    republished = republish_stale_jobs(now)

    assert republished == [old_job.id]
    assert [message.args for message in queued_messages(redis_client)] == [[old_job.id]]
    assert republish_stale_jobs(now) == []  # taken: not republished again before REQUEUE_AFTER
    assert new_job.id not in republished


def test_does_not_republish_while_messages_still_wait_in_the_broker(
    app: Flask, make_task: Callable[..., Task], redis_client: redis.Redis
) -> None:
    waiting, stale = make_task(name="waiting"), make_task(name="stale")
    run_task_now(waiting.id)  # its message is still in the queue: workers are busy or down
    old_job = run_task_now(stale.id)
    now = datetime.now(UTC)
    long_ago = now - timedelta(seconds=app.config["REQUEUE_AFTER"] + 1)
    set_job(old_job.id, queued_at=long_ago, published_at=long_ago)

    assert republish_stale_jobs(now) == []
    assert len(queued_messages(redis_client)) == 2  # no copies piled up


def test_leaves_jobs_queued_when_the_broker_is_down_and_republishes_them_later(
    test_environment: dict[str, str],
    make_task: Callable[..., Task],
    now: datetime,
    redis_client: redis.Redis,
) -> None:
    from website import create_app

    task = make_task(start_time=now - timedelta(seconds=1))
    set_task(task.id, next_run_at=now)
    broker_down = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:9/0"})
    with broker_down.app_context():
        report = tick(now)
        db.session.remove()
        db.engine.dispose()
    [job] = jobs_of(task.id)
    assert report.unpublished == 1
    assert (job.status, job.published_at) == (JobStatus.QUEUED, None)

    republished = republish_stale_jobs(job.queued_at + timedelta(hours=1))

    assert republished == [job.id]
    assert [message.args for message in queued_messages(redis_client)] == [[job.id]]


@pytest.mark.parametrize("threads", [4])
def test_concurrent_ticks_dispatch_each_due_task_exactly_once(
    app: Flask,
    make_task: Callable[..., Task],
    now: datetime,
    redis_client: redis.Redis,
    threads: int,
) -> None:
    app.config["SCHEDULER_BATCH"] = 7
    tasks = [make_task(start_time=now - timedelta(seconds=1)) for _ in range(40)]
    for task in tasks:
        set_task(task.id, next_run_at=now)
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def run_ticks() -> None:
        with app.app_context():
            try:
                barrier.wait()
                for _ in range(3):
                    tick(now)
            except BaseException as error:  # reported by the assertion below
                errors.append(error)
            finally:
                db.session.remove()

    workers = [threading.Thread(target=run_ticks) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)

    assert errors == []
    assert [len(jobs_of(task.id)) for task in tasks] == [1] * len(tasks)
    published = sorted(arg for message in queued_messages(redis_client) for arg in message.args)
    all_jobs = sorted(job.id for task in tasks for job in jobs_of(task.id))
    assert published == all_jobs  # each job published exactly once
