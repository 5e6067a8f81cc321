"""SQLite under several processes at once: read-then-write transactions wait, never fail."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select, update

from website import create_app
from website.extensions import db
from website.models import Job, JobStatus, Task
from website.services import database_admin
from website.services.users import create_user

PROCESSES = 4  # web + worker + beat, and one more
ITERATIONS = 40  # read-then-write transactions per process
FIRST_SLOT = datetime(2030, 1, 1, tzinfo=UTC)
PROCESS_TIMEOUT_SECONDS = 240  # generous: the machine is shared; success returns much sooner


def read_then_write(task_id: int, process_number: int, iterations: int) -> None:
    """Each transaction reads the task's counter, then writes counter + 1 and a job.

    Runs in a child process (``python -c``), on the database named by DATABASE_URL.
    """
    app = create_app({"TESTING": True})
    with app.app_context():
        for iteration in range(iterations):
            seen = db.session.execute(select(Task.attempt).where(Task.id == task_id)).scalar_one()
            time.sleep(0.002)  # widen the gap in which another process could write
            db.session.execute(update(Task).where(Task.id == task_id).values(attempt=seen + 1))
            slot = FIRST_SLOT + timedelta(seconds=process_number * iterations + iteration)
            db.session.add(Job(task_id=task_id, scheduled_for=slot, status=JobStatus.SUCCEEDED))
            db.session.commit()


def _database_with_one_task(url: str) -> int:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        database_admin.migrate_to_head()
        owner = create_user("counter", "correct horse battery")
        task = Task(
            owner_id=owner.id,
            name="counter",
            url="http://127.0.0.1:9/",
            start_time=FIRST_SLOT,
            task_interval=60,
            max_attempt=PROCESSES * ITERATIONS + 1,
        )
        db.session.add(task)
        db.session.commit()
        task_id = task.id
        db.engine.dispose()
    return task_id


def _counts(url: str, task_id: int) -> tuple[int, int]:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        attempt = db.session.execute(select(Task.attempt).where(Task.id == task_id)).scalar_one()
        jobs = db.session.scalar(select(func.count()).select_from(Job)) or 0
        db.engine.dispose()
    return attempt, jobs


def test_concurrent_read_then_write_transactions_never_hit_database_is_locked(
    test_environment: dict[str, str], tmp_path: Path, project_root: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    task_id = _database_with_one_task(url)
    environment = {**os.environ, "DATABASE_URL": url}
    code = "import sys; from tests.test_sqlite_concurrency import read_then_write as run; " + (
        "run(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(task_id), str(number), str(ITERATIONS)],
            cwd=project_root,
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for number in range(PROCESSES)
    ]
    outcomes = [process.communicate(timeout=PROCESS_TIMEOUT_SECONDS) for process in processes]

    errors = [stderr for _stdout, stderr in outcomes if "database is locked" in stderr]
    assert errors == []
    assert [process.returncode for process in processes] == [0] * PROCESSES, outcomes
    # Serialised, not merely error-free: no process overwrote another's increment.
    assert _counts(url, task_id) == (PROCESSES * ITERATIONS, PROCESSES * ITERATIONS)
