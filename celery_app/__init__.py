"""Celery bound to the Flask app: task bodies and the beat schedule."""

from __future__ import annotations

import sys
from typing import Any

from celery import Celery
from celery.signals import worker_init
from flask import Flask

from celery_app import shutdown  # noqa: F401  (pool children leave SIGTERM to the main process)

__all__ = ["celery_init_app"]

# A worker thread back from the network (a fetch, each database round trip) waits for the GIL
# until the running thread yields it: by default after up to 5 ms, many times per job. A shorter
# interval hands it over sooner; measured in bench/end_to_end.py (docs/engine.md).
WORKER_SWITCH_INTERVAL_SECONDS = 0.0005


def celery_init_app(app: Flask) -> Celery:
    """Register the task bodies and the beat schedule on the app's Celery instance."""
    from celery_app import schedule, tasks  # noqa: F401  (registers the tasks)

    celery: Celery = app.extensions["celery"]
    celery.conf.beat_schedule = schedule.beat_schedule(app.config)
    return celery


@worker_init.connect
def _shorten_thread_switch_interval(**_kwargs: Any) -> None:
    sys.setswitchinterval(WORKER_SWITCH_INTERVAL_SECONDS)
