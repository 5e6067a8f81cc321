"""Celery bound to the Flask app: ``FlaskTask``, the task bodies, the beat schedule, the queue."""

from __future__ import annotations

from celery import Celery, Task
from flask import Flask

from celery_app import shutdown  # noqa: F401  (pool children leave SIGTERM to the main process)

__all__ = ["celery_init_app"]


def celery_init_app(app: Flask) -> Celery:
    """Create the app's Celery instance with its tasks and schedule, and install the job queue."""
    # Connects the signals, registers the tasks and the workers' remote control command.
    from celery_app import control, signals, tasks  # noqa: F401
    from celery_app.config import celery_config
    from celery_app.delivery_queue import CeleryDeliveryQueue
    from celery_app.queue import CeleryJobQueue
    from celery_app.schedule import beat_schedule

    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.config_from_object(celery_config(app.config))
    celery.conf.beat_schedule = beat_schedule(app.config)
    celery.set_default()
    app.extensions["celery"] = celery
    app.extensions["job_queue"] = CeleryJobQueue(celery)
    app.extensions["delivery_queue"] = CeleryDeliveryQueue(celery, app.config["WEBHOOK_TIMEOUT"])
    return celery
