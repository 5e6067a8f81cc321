"""``challenge feed``: one tick from the command line, or a loop for deployments without beat."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskCliRunner

from cli import main
from tests.support.broker import queued_messages
from tests.support.processes import wait_for
from tests.support.rows import jobs_of, set_task
from website.models import JobStatus, Task

CHALLENGE = Path(sys.executable).with_name("challenge")  # the console script of this venv


def test_feed_dispatches_the_due_tasks_and_prints_each_job(
    runner: FlaskCliRunner, make_task: Callable[..., Task], redis_client: redis.Redis
) -> None:
    due = make_task(name="due")
    later = make_task(name="later", start_time=datetime.now(UTC) + timedelta(hours=1))

    result = runner.invoke(main, ["feed"])

    assert result.exit_code == 0, result.output
    [job] = jobs_of(due.id)
    assert f"job {job.id}: task {due.id}" in result.output
    assert "published" in result.output
    assert "Dispatched 1 jobs (0 left queued for the reconciler)" in result.output
    assert jobs_of(later.id) == []
    assert [message.args for message in queued_messages(redis_client)] == [[job.id]]


def test_feed_with_nothing_due_says_so(
    runner: FlaskCliRunner, make_task: Callable[..., Task]
) -> None:
    task = make_task()
    set_task(task.id, next_run_at=datetime.now(UTC) + timedelta(minutes=5))

    result = runner.invoke(main, ["feed"])

    assert result.exit_code == 0
    assert "Dispatched 0 jobs" in result.output


@pytest.mark.slow
def test_feed_loop_keeps_ticking_until_interrupted(
    make_task: Callable[..., Task], tmp_path: Path
) -> None:
    task = make_task(task_interval=1)
    log = tmp_path / "feed.log"
    with log.open("wb") as output:
        loop = subprocess.Popen(
            [str(CHALLENGE), "feed", "--loop"],
            env={**os.environ, "SCHEDULER_TICK_SECONDS": "0.2"},
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: len(jobs_of(task.id)) >= 1, timeout=60, message=log.read_text())
            # Without a worker the job stays queued: the next slots are skipped, not stacked.
            wait_for(lambda: "Ticking every" in log.read_text(), timeout=10)
            loop.send_signal(signal.SIGINT)
            assert loop.wait(timeout=30) == 0
        finally:
            if loop.poll() is None:
                loop.kill()
                loop.wait()
    assert [job.status for job in jobs_of(task.id)] == [JobStatus.QUEUED]
    assert "Stopped." in log.read_text()


def test_feed_fails_and_says_so_when_no_job_could_be_published(
    app: object, make_task: Callable[..., Task], tmp_path: Path
) -> None:
    task = make_task(name="due")
    completed = subprocess.run(
        [str(CHALLENGE), "feed"],
        env={**os.environ, "REDIS_URL": f"redis://127.0.0.1:{closed_port()}/0"},
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "Traceback" not in completed.stderr
    # (Above it, the warning the queue logs for the operator's log collector.)
    assert completed.stderr.strip().splitlines()[-1] == (
        "Error: nothing could be published: Redis (REDIS_URL) did not take the 1 jobs; they stay "
        "queued, and a tick publishes them again once Redis answers"
    )
    [job] = jobs_of(task.id)
    assert job.status == JobStatus.QUEUED  # kept for the reconciler


def closed_port() -> int:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
