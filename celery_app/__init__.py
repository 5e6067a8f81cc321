"""Celery bound to the Flask app: task bodies and the beat schedule."""

from __future__ import annotations

from celery import Celery
from flask import Flask

__all__ = ["celery_init_app"]


def celery_init_app(app: Flask) -> Celery:
    """Register the task bodies and the beat schedule on the app's Celery instance."""
    from celery_app import schedule, tasks  # noqa: F401  (registers the tasks)

    celery: Celery = app.extensions["celery"]
    celery.conf.beat_schedule = schedule.beat_schedule(app.config)
    return celery
