"""Fixtures for the engine tests: real celery worker and beat subprocesses with short timings."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.support.processes import CeleryProcesses

# Short timings so that recovery shows within seconds: ticks 5 times a second, a job nobody
# started is republished after 2 s, and a lease ends 1 s after its job's deadline.
ENGINE_TEST_SETTINGS = {
    "SCHEDULER_TICK_SECONDS": "0.2",
    "REQUEUE_AFTER": "2",
    "LEASE_GRACE_SECONDS": "1",
    "FETCH_DEFAULT_TIMEOUT": "5",
}


@pytest.fixture
def celery_processes(app: Flask, tmp_path: Path) -> Iterator[CeleryProcesses]:
    """Start workers and beats with ``celery_processes.worker()`` / ``.beat()``; all are stopped
    (before the database is emptied) when the test ends."""
    app.config.update(
        {name: type(app.config[name])(value) for name, value in ENGINE_TEST_SETTINGS.items()}
    )
    with CeleryProcesses(tmp_path, **ENGINE_TEST_SETTINGS) as processes:
        yield processes


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Blocked handlers wait for it; the test's end always sets it."""
    event = threading.Event()
    yield event
    event.set()
