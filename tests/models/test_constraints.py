"""The schema itself refuses bad rows, whatever code path tries to write them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from website.extensions import db
from website.models import Data, Job, JobStatus, Task, User

START = datetime(2030, 1, 1, tzinfo=UTC)


def _valid_task(owner_id: int, **values: Any) -> Task:
    fields: dict[str, Any] = {
        "owner_id": owner_id,
        "name": "feed",
        "url": "http://127.0.0.1:9/feed",
        "parameters": {},
        "start_time": START,
        "task_interval": 60,
        **values,
    }
    return Task(**fields)


def _job(task_id: int, **values: Any) -> Job:
    fields: dict[str, Any] = {"task_id": task_id, "scheduled_for": START, **values}
    return Job(**fields)


def _refused(*rows: object) -> None:
    """Assert the database refuses to store ``rows``, and leave the session usable."""
    db.session.add_all(rows)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_a_valid_task_is_stored(user: User) -> None:
    db.session.add(_valid_task(user.id))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Task)) == 1


@pytest.mark.parametrize(
    "values",
    [
        {"task_interval": 0},
        {"task_interval": -5},
        {"max_execution_time": -1},
        {"max_attempt": 0},
        {"attempt": -1},
        {"priority": 10},
        {"priority": -1},
        {"end_time": START},
        {"end_time": START - timedelta(seconds=1)},
        {"name": None},
        {"url": None},
        {"start_time": None},
    ],
    ids=lambda values: "-".join(f"{key}={value}" for key, value in values.items()),
)
def test_a_task_with_impossible_values_is_refused(user: User, values: dict[str, Any]) -> None:
    _refused(_valid_task(user.id, **values))


def test_a_task_needs_an_existing_owner(app: Flask) -> None:
    _refused(_valid_task(owner_id=424242))


def test_a_username_is_taken_only_once(make_user: Callable[..., User]) -> None:
    make_user("alice")
    _refused(User(username="alice", password_hash="x"))


@pytest.mark.parametrize("variant", ["ALICE", "Alice"])
def test_a_username_is_taken_whatever_its_case(
    make_user: Callable[..., User], variant: str
) -> None:
    make_user("alice")
    _refused(User(username=variant, password_hash="x"))


def test_an_unknown_role_is_refused(app: Flask) -> None:
    _refused(User(username="mallory", password_hash="x", role="superuser"))


@pytest.mark.parametrize("values", [{"status": "exploded"}, {"attempt": -1}])
def test_a_job_with_impossible_values_is_refused(
    make_task: Callable[..., Task], values: dict[str, Any]
) -> None:
    _refused(_job(make_task().id, **values))


def test_a_job_needs_an_existing_task(app: Flask) -> None:
    _refused(_job(task_id=424242))


def test_one_slot_and_attempt_of_a_task_gets_one_job(make_task: Callable[..., Task]) -> None:
    task = make_task()
    db.session.add(_job(task.id, status=JobStatus.SUCCEEDED))
    db.session.commit()
    _refused(_job(task.id, status=JobStatus.FAILED))


def test_the_same_slot_may_run_again_as_a_new_attempt(make_task: Callable[..., Task]) -> None:
    task = make_task()
    db.session.add_all(
        [_job(task.id, status=JobStatus.FAILED), _job(task.id, attempt=1, status="succeeded")]
    )
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Job)) == 2


@pytest.mark.parametrize(
    "second_status", [JobStatus.QUEUED, JobStatus.RUNNING], ids=lambda status: status.value
)
@pytest.mark.parametrize(
    "first_status", [JobStatus.QUEUED, JobStatus.RUNNING], ids=lambda status: status.value
)
def test_a_task_has_at_most_one_unfinished_job(
    make_task: Callable[..., Task], first_status: JobStatus, second_status: JobStatus
) -> None:
    task = make_task()
    db.session.add(_job(task.id, status=first_status))
    db.session.commit()
    _refused(_job(task.id, scheduled_for=START + timedelta(minutes=1), status=second_status))


def test_finished_jobs_do_not_block_an_unfinished_one(make_task: Callable[..., Task]) -> None:
    task = make_task()
    finished = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.LOST]
    db.session.add_all(
        _job(task.id, scheduled_for=START + timedelta(minutes=index), status=status)
        for index, status in enumerate([*finished, JobStatus.QUEUED])
    )
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Job)) == 5


def test_data_needs_an_existing_job(make_task: Callable[..., Task]) -> None:
    task = make_task()
    _refused(Data(job_id=424242, task_id=task.id, payload={}, content_hash="0" * 64))


def test_the_database_deletes_a_deleted_tasks_jobs_and_data(make_task: Callable[..., Task]) -> None:
    task = make_task()
    job = _job(task.id, status=JobStatus.SUCCEEDED)
    db.session.add(job)
    db.session.flush()
    db.session.add(Data(job_id=job.id, task_id=task.id, payload={"id": 1}, content_hash="0" * 64))
    db.session.commit()
    db.session.execute(delete(Task).where(Task.id == task.id))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Job)) == 0
    assert db.session.scalar(select(func.count()).select_from(Data)) == 0


def test_the_database_deletes_a_deleted_users_tasks(
    make_user: Callable[..., User], make_task: Callable[..., Task]
) -> None:
    bob = make_user("bob")
    make_task(owner=bob)
    db.session.execute(delete(User).where(User.id == bob.id))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0
