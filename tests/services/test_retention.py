"""Retention: each task keeps its newest jobs and their data; the rest goes in small batches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, insert, select

from tests.support.rows import jobs_of, set_task
from website.extensions import db
from website.models import Data, Job, JobStatus, Task
from website.services import retention
from website.services.retention import prune


def add_jobs(task: Task, statuses: list[JobStatus], records_per_job: int = 2) -> list[int]:
    """Insert finished jobs (oldest first), each with a few data rows."""
    start = datetime.now(UTC) - timedelta(days=1)
    ids = []
    for number, status in enumerate(statuses):
        job = Job(
            task_id=task.id,
            scheduled_for=start + timedelta(seconds=number),
            status=status.value,
            attempt=0,
        )
        db.session.add(job)
        db.session.flush()
        ids.append(job.id)
        if records_per_job:
            db.session.execute(
                insert(Data),
                [
                    {
                        "job_id": job.id,
                        "task_id": task.id,
                        "record_key": str(n),
                        "payload": {"n": n},
                        "content_hash": "x",
                    }
                    for n in range(records_per_job)
                ],
            )
    db.session.commit()
    return ids


def data_count(task_id: int) -> int:
    count = db.session.scalar(select(func.count()).select_from(Data).where(Data.task_id == task_id))
    db.session.commit()
    return int(count or 0)


def test_keeps_the_newest_jobs_of_each_task_with_their_data(
    make_task: Callable[..., Task],
) -> None:
    busy, quiet = make_task(name="busy"), make_task(name="quiet")
    busy_jobs = add_jobs(busy, [JobStatus.SUCCEEDED] * 12)
    quiet_jobs = add_jobs(quiet, [JobStatus.SUCCEEDED] * 3)

    report = prune(keep=5)

    assert [job.id for job in jobs_of(busy.id)] == busy_jobs[-5:]
    assert [job.id for job in jobs_of(quiet.id)] == quiet_jobs
    assert (report.jobs_deleted, report.data_deleted) == (7, 14)
    assert data_count(busy.id) == 10


def test_never_prunes_unfinished_jobs_or_the_jobs_a_task_points_at(
    make_task: Callable[..., Task],
) -> None:
    task = make_task()
    [stuck] = add_jobs(task, [JobStatus.QUEUED], records_per_job=0)  # the oldest job
    ids = add_jobs(task, [JobStatus.SUCCEEDED] + [JobStatus.FAILED] * 7)
    set_task(task.id, last_data_job_id=ids[0], last_job_id=ids[-1])

    prune(keep=2)

    assert [job.id for job in jobs_of(task.id)] == [stuck, ids[0], ids[-2], ids[-1]]
    assert data_count(task.id) == 2 * 3  # the data of the three finished jobs kept


def test_deletes_in_batches_no_larger_than_the_batch_size(
    make_task: Callable[..., Task], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retention, "DELETE_BATCH_SIZE", 4)
    monkeypatch.setattr(retention, "TASK_PAGE_SIZE", 2)
    tasks = [make_task(name=f"t{n}") for n in range(3)]
    for task in tasks:
        add_jobs(task, [JobStatus.SUCCEEDED] * 9, records_per_job=3)

    report = prune(keep=1)

    assert (report.jobs_deleted, report.data_deleted) == (24, 72)
    assert [len(jobs_of(task.id)) for task in tasks] == [1, 1, 1]


def test_reads_the_limit_from_data_retention_jobs(
    app: Flask, make_task: Callable[..., Task]
) -> None:
    app.config["DATA_RETENTION_JOBS"] = 2
    task = make_task()
    ids = add_jobs(task, [JobStatus.SUCCEEDED] * 4)

    prune()

    assert [job.id for job in jobs_of(task.id)] == ids[-2:]
