"""The worker's systemd unit in docs/operations.md, stopped the way systemd stops it.

systemd's default ``KillMode=control-group`` sends the unit's ``KillSignal`` to every process of
the unit at once, then SIGKILL after ``TimeoutStopSec``: here the unit's ``ExecStart`` runs in a
process group of its own and the signal goes to the whole group.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from celery_app.queue import HARD_LIMIT_MARGIN_SECONDS, SOFT_LIMIT_MARGIN_SECONDS
from tests.ship.processes import running, wait_until
from tests.support.http_server import LocalHTTPServer, Reply
from tests.support.rows import data_of, jobs_of
from website.config import load_config
from website.models import JobStatus, Task
from website.services.scheduler import tick

pytestmark = pytest.mark.slow

OPERATIONS = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
UNIT_NAME = "challenge-worker.service"
INSTALLED_VENV_BIN = "/opt/challenge/.venv/bin/"
READY_TIMEOUT_SECONDS = 90.0
RECORDS = [{"id": 1}, {"id": 2}]
SLOW_FEED_SECONDS = 3  # the stop signal lands while the job waits for this feed


def worker_unit() -> dict[str, str]:
    """The ``[Service]`` settings of the worker's unit, as systemd would read them."""
    text = OPERATIONS.read_text()
    block = re.search(rf"```ini\n# /etc/systemd/system/{UNIT_NAME}\n(.*?)```", text, re.S)
    assert block, f"docs/operations.md has no {UNIT_NAME}"
    settings: dict[str, str] = {}
    for line in block.group(1).splitlines():
        if "=" in line and not line.startswith("#"):
            name, value = line.split("=", 1)
            settings[name.strip()] = value.strip()
    return settings


def test_the_worker_unit_waits_longer_than_the_longest_job(tmp_path: Path) -> None:
    unit = worker_unit()
    longest_job = (
        load_config(tmp_path)["MAX_EXECUTION_TIME"]
        + SOFT_LIMIT_MARGIN_SECONDS
        + HARD_LIMIT_MARGIN_SECONDS
    )
    assert int(unit["TimeoutStopSec"]) > longest_job
    assert unit.get("KillMode", "control-group") in {"control-group", "mixed"}


def test_the_worker_unit_stopped_like_systemd_does_finishes_its_running_job(
    make_task: Callable[..., Task], http_server: LocalHTTPServer, tmp_path: Path
) -> None:
    unit = worker_unit()
    command = shlex.split(
        unit["ExecStart"].replace(INSTALLED_VENV_BIN, f"{Path(sys.executable).parent}/")
    )
    http_server.route(
        "/feed", lambda _request: Reply(200, json.dumps(RECORDS).encode(), delay=SLOW_FEED_SECONDS)
    )
    task = make_task(url=http_server.url("/feed"), task_interval=3600)

    with running(command, tmp_path / "worker", {"WORKER_CONCURRENCY": "1"}) as worker:
        wait_until(
            lambda: " ready." in worker.output() or worker.process.poll() is not None,
            READY_TIMEOUT_SECONDS,
            "the worker to be ready",
        )
        worker.assert_alive()
        tick()
        wait_until(lambda: bool(http_server.requests_to("/feed")), 60, "the job to start")

        os.killpg(worker.process.pid, getattr(signal, unit.get("KillSignal", "SIGTERM")))
        try:
            exit_code = worker.process.wait(timeout=int(unit["TimeoutStopSec"]))
        except subprocess.TimeoutExpired:
            pytest.fail(f"systemd would SIGKILL it now\n{worker.output()}")

    assert exit_code == 0, worker.output()
    [job] = jobs_of(task.id)
    assert job.status == JobStatus.SUCCEEDED, worker.output()
    assert len(data_of(job.id)) == len(RECORDS)
