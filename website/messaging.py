"""The Celery app bound to Flask: configuration, ``FlaskTask``, and publishing by task name.

The web app only ever *publishes* (by name, with ``send_task``); ``celery_app`` registers the task
bodies and the beat schedule on the same Celery instance.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask, current_app

__all__ = ["celery_config", "get_celery", "init_app"]

VISIBILITY_MARGIN_SECONDS = 300  # redelivery only after the longest possible run, plus margin
QUEUE_NAME = "challenge"


def celery_config(config: dict[str, Any]) -> dict[str, Any]:
    """Celery settings derived from the app's configuration."""
    return {
        "broker_url": config["REDIS_URL"],
        "broker_connection_retry_on_startup": True,
        "broker_transport_options": {
            # Must exceed the longest run, or Redis redelivers a message still being worked on.
            "visibility_timeout": config["MAX_EXECUTION_TIME"] + VISIBILITY_MARGIN_SECONDS,
            "priority_steps": list(range(10)),
            "queue_order_strategy": "priority",
        },
        "task_default_queue": QUEUE_NAME,
        "task_ignore_result": True,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": config["WORKER_PREFETCH_MULTIPLIER"],
        "worker_hijack_root_logger": False,
        "worker_pool": config["WORKER_POOL"],
        "worker_concurrency": config["WORKER_CONCURRENCY"],
        "worker_max_memory_per_child": config["WORKER_MAX_MEMORY_PER_CHILD"] or None,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {},  # filled in by celery_app.schedule
    }


def init_app(app: Flask) -> Celery:
    class FlaskTask(Task):
        def __call__(self, *args: object, **kwargs: object) -> object:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.import_name, task_cls=FlaskTask)
    celery.config_from_object(celery_config(app.config))
    celery.set_default()
    app.extensions["celery"] = celery
    return celery


def get_celery() -> Celery:
    """The current app's Celery instance."""
    celery: Celery = current_app.extensions["celery"]
    return celery
