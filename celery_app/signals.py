"""Celery's signals: logging like the web app, a worker's thread switching, metrics at exit."""

from __future__ import annotations

import logging
import sys
from typing import Any

from celery import current_task
from celery.signals import setup_logging, worker_init, worker_process_shutdown, worker_shutting_down

from website import metrics
from website.config import log_settings
from website.log import configure_logging

__all__ = ["CeleryTaskFilter", "RoutineTaskFilter"]

logger = logging.getLogger(__name__)

# A worker thread back from the network (a fetch, each database round trip) waits for the GIL
# until the running thread yields it: by default after up to 5 ms, many times per job. A shorter
# interval hands it over sooner (docs/engine.md).
WORKER_SWITCH_INTERVAL_SECONDS = 0.0005


class CeleryTaskFilter(logging.Filter):
    """Adds the id of the Celery task being run (``celery_task_id``) to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        task = current_task
        if task and getattr(record, "celery_task_id", None) is None:
            record.celery_task_id = task.request.id
        return True


# Tasks that run every second or so: Celery's own lines about them (beat sent it, the worker
# received it, it succeeded) are DEBUG lines; what such a task did, it logs itself at INFO.
ROUTINE_TASKS = frozenset({"scheduler.tick"})
# Celery's loggers of "Task ... received" / "Task ... succeeded"; their records carry the task's
# name in ``data`` (the ``extra`` Celery passes).
TASK_EVENT_LOGGERS = frozenset({"celery.worker.strategy", "celery.app.trace"})
BEAT_LOGGER = "celery.beat"  # "Scheduler: Sending due task <entry> (<task name>)"


class RoutineTaskFilter(logging.Filter):
    """Lowers Celery's INFO lines about a routine task to DEBUG (dropped unless LOG_LEVEL=DEBUG)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _about_a_routine_task(record):
            return True
        record.levelno = logging.DEBUG
        record.levelname = logging.getLevelName(logging.DEBUG)
        return logging.getLogger().isEnabledFor(logging.DEBUG)


def _about_a_routine_task(record: logging.LogRecord) -> bool:
    if record.name in TASK_EVENT_LOGGERS:
        data = getattr(record, "data", None)
        return isinstance(data, dict) and data.get("name") in ROUTINE_TASKS
    if record.name == BEAT_LOGGER:
        args = record.args
        return isinstance(args, tuple) and any(arg in ROUTINE_TASKS for arg in args)
    return False


@setup_logging.connect
def _configure_logging(**_options: Any) -> None:
    """Worker and beat log like the web app (connecting this replaces Celery's set-up)."""
    settings = log_settings()
    configure_logging(
        settings["LOG_LEVEL"], settings["LOG_FORMAT"], CeleryTaskFilter(), RoutineTaskFilter()
    )


@worker_shutting_down.connect
def _log_worker_shutdown(sig: str, how: str, exitcode: int, **_options: Any) -> None:
    # Celery itself only prints this to stdout; as a record it reaches the JSON stream too.
    logger.info("worker: %s shutdown on %s (exit code %s)", how.lower(), sig, exitcode)


@worker_init.connect
def _shorten_thread_switch_interval(**_options: Any) -> None:
    sys.setswitchinterval(WORKER_SWITCH_INTERVAL_SECONDS)


@worker_process_shutdown.connect
def _flush_metrics(**_options: Any) -> None:
    # Prefork pool processes leave through os._exit, which skips atexit.
    metrics.flush()
