"""run_task_now: one manual run, queued and published after commit, one at a time."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import redis

from tests.support.broker import queued_messages
from website.errors import Conflict, NotFound
from website.extensions import db
from website.models import Job, JobStatus, Task
from website.services.manual_runs import run_task_now


def test_queues_a_manual_job_and_publishes_it(
    make_task: Callable[..., Task], redis_client: redis.Redis
) -> None:
    task = make_task(priority=7)

    job = run_task_now(task.id)

    stored = db.session.get(Job, job.id)
    assert stored is not None
    assert (stored.status, stored.trigger, stored.task_id) == (JobStatus.QUEUED, "manual", task.id)
    assert stored.published_at is not None
    [message] = queued_messages(redis_client)
    assert (message.task_name, message.args) == ("fetch.run_job", [job.id])
    assert message.priority == 2  # kombu serves 0 first: task priority 7 maps to 9 - 7


def test_refuses_a_second_run_while_one_is_queued(
    make_task: Callable[..., Task], redis_client: redis.Redis
) -> None:
    task = make_task()
    run_task_now(task.id)

    with pytest.raises(Conflict, match="already queued or running"):
        run_task_now(task.id)

    assert db.session.query(Job).filter_by(task_id=task.id).count() == 1
    assert len(queued_messages(redis_client)) == 1


def test_allows_a_new_run_once_the_previous_one_finished(make_task: Callable[..., Task]) -> None:
    task = make_task()
    first = run_task_now(task.id)
    db.session.execute(db.update(Job).where(Job.id == first.id).values(status=JobStatus.SUCCEEDED))
    db.session.commit()

    second = run_task_now(task.id)

    assert second.id != first.id


def test_raises_not_found_for_a_missing_task(app: object) -> None:
    with pytest.raises(NotFound):
        run_task_now(12345)
