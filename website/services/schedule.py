"""Every rule that sets a task's ``next_run_at``, and what a finished run writes on its task.

Pure functions of the values they are given (no database, no app): the scheduler, the executor
and the task service all take their rules from here. Runs fall on the grid
``start_time + k * task_interval`` inside the window ``[start_time, end_time)``. Pausing leaves
``next_run_at`` alone (the claim skips disabled tasks); an expired or exhausted task has none.

A one-off task (``task_interval`` None) has no grid: it runs once at ``start_time`` (or as soon
as possible after). Its claim plans nothing more; a failure plans a retry after the backoff
(none once exhausted); a success plans nothing: the task is completed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from website.models import JobStatus
from website.models.task import StateFields, is_completed

__all__ = [
    "SCHEDULE_FIELDS",
    "FinishedTask",
    "ScheduledTask",
    "TaskRun",
    "catch_up_window",
    "execution_deadline",
    "failed_run",
    "first_run_at",
    "is_expired",
    "is_one_off",
    "is_runnable",
    "next_run_after_claim",
    "next_slot_after",
    "rescheduled_run_at",
    "reschedules",
    "reset_run_at",
    "retry_delay",
    "stale_at_after",
    "succeeded_run",
]

BACKOFF_JITTER_FRACTION = 0.1  # up to 10% added to a retry delay, so failed tasks do not align
# A one-off task has no interval to cap its retry delay: a day caps it instead.
ONE_OFF_MAX_RETRY_DELAY = 24 * 3600.0
# A slot due by less than this (or one tick, if longer) when its predecessor is claimed is late,
# not missed: it still runs. Beyond it, missed slots coalesce into one run.
MIN_CATCH_UP_SECONDS = 1.0
# Fields whose change moves the schedule; a new URL is fetched at once.
SCHEDULE_FIELDS = frozenset({"url", "start_time", "end_time", "task_interval"})


class ScheduledTask(StateFields, Protocol):
    """The fields of a task that its schedule depends on (a ``Task``, a row, a locked task):
    its state's fields, ``task_interval`` and ``next_run_at`` among them."""


class FinishedTask(ScheduledTask, Protocol):
    """A task whose run just finished: its schedule and what its last good run left."""

    @property
    def retry_backoff(self) -> float: ...
    @property
    def last_data_job_id(self) -> int | None: ...
    @property
    def etag(self) -> str | None: ...
    @property
    def last_modified(self) -> str | None: ...
    @property
    def stale_after(self) -> int | None: ...
    @property
    def stale_at(self) -> datetime | None: ...
    @property
    def last_success_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class TaskRun:
    """What a finished run writes on its task: its last-run fields, attempts and next run."""

    last_job_id: int
    last_data_job_id: int | None
    etag: str | None
    last_modified: str | None
    last_execute_time: datetime | None
    last_execution_status: str
    last_execution_error: str | None
    last_execution_time: float | None
    attempt: int
    next_run_at: datetime | None
    last_success_at: datetime | None
    stale_at: datetime | None  # when the task goes stale without another success (task.stale)


def next_slot_after(start_time: datetime, interval: int, after: datetime) -> datetime:
    """The first grid slot strictly after ``after`` (the start itself when it is later)."""
    if after < start_time:
        return start_time
    elapsed = (after - start_time).total_seconds()
    slots = math.floor(elapsed / interval) + 1
    return start_time + timedelta(seconds=slots * interval)


def first_run_at(start_time: datetime, now: datetime) -> datetime:
    """When a new task (or one reset or rescheduled to run now) runs: at its start, or now."""
    return max(start_time, now)


def is_one_off(task: ScheduledTask) -> bool:
    """A task without an interval: it runs once (with its retries), then it is completed."""
    return task.task_interval is None


def is_expired(task: ScheduledTask, now: datetime) -> bool:
    return task.end_time is not None and now >= task.end_time


def _inside_window(task: ScheduledTask, at: datetime) -> datetime | None:
    """``at``, or None when the window has closed by then."""
    return None if task.end_time is not None and at >= task.end_time else at


def catch_up_window(tick_seconds: float) -> timedelta:
    """How late a slot may be and still run rather than coalesce (see ``MIN_CATCH_UP_SECONDS``)."""
    return timedelta(seconds=max(tick_seconds, MIN_CATCH_UP_SECONDS))


def is_runnable(task: ScheduledTask, now: datetime) -> bool:
    """Whether claiming the due task queues a job: inside its window, attempts left."""
    return not is_expired(task, now) and task.attempt < task.max_attempt and now >= task.start_time


def next_run_after_claim(
    task: ScheduledTask, claimed: datetime, now: datetime, catch_up: timedelta
) -> datetime | None:
    """Where a task claimed for its slot ``claimed`` goes next: its next grid slot, or nowhere.

    Slots missed while nothing ran coalesce: the next run is the first slot after ``now``. But
    the slot right after the claimed one, when it is due already by less than ``catch_up``, is
    late (a delayed tick, a busy machine), not missed: it runs at the next tick. A one-off task
    goes nowhere: its one run is the claimed one (a failure plans its retry).
    """
    if is_expired(task, now) or task.attempt >= task.max_attempt:
        return None  # expired, or exhausted until its attempt is reset
    if now < task.start_time:
        return task.start_time  # never scheduled before its window opens
    if task.task_interval is None:
        return None
    slot = next_slot_after(task.start_time, task.task_interval, now)
    following = next_slot_after(task.start_time, task.task_interval, claimed)
    if following <= now and now - following < catch_up:
        slot = following
    return _inside_window(task, slot)


def retry_delay(attempt: int, interval: int | None, backoff: float = 1.0) -> float:
    """Seconds before a failed task runs again, plus jitter: ``backoff`` times 1, 2, 4 ...

    Capped at the task's interval (a retry never waits longer than the next slot would), or at
    ``ONE_OFF_MAX_RETRY_DELAY`` for a one-off task.
    """
    cap = ONE_OFF_MAX_RETRY_DELAY if interval is None else float(interval)
    base = min(backoff * 2.0 ** min(max(attempt - 1, 0), 64), cap)
    return min(base * (1 + random.uniform(0, BACKOFF_JITTER_FRACTION)), cap)


def failed_run(
    task: FinishedTask,
    *,
    job_id: int,
    status: str,
    error: str,
    duration: float | None,
    started_at: datetime | None,
    now: datetime,
) -> TaskRun:
    """A failure (failed, timed out, lost): attempt + 1, then a retry after a backoff.

    At ``attempt >= max_attempt`` the task is exhausted: no run is planned until its attempt is
    reset. A retry never falls before the window opens, nor at or after its end.
    """
    attempt = task.attempt + 1
    next_run_at: datetime | None = None
    if attempt < task.max_attempt:
        delay = retry_delay(attempt, task.task_interval, task.retry_backoff)
        retry_at = now + timedelta(seconds=delay)
        next_run_at = _inside_window(task, max(retry_at, task.start_time))
    return TaskRun(
        last_job_id=job_id,
        last_data_job_id=task.last_data_job_id,
        etag=task.etag,
        last_modified=task.last_modified,
        last_execute_time=started_at,
        last_execution_status=status,
        last_execution_error=error,
        last_execution_time=duration,
        attempt=attempt,
        next_run_at=next_run_at,
        last_success_at=task.last_success_at,
        stale_at=task.stale_at,
    )


def succeeded_run(
    task: FinishedTask,
    *,
    job_id: int,
    started_at: datetime,
    duration: float,
    not_modified: bool,
    etag: str | None,
    last_modified: str | None,
    now: datetime,
) -> TaskRun:
    """A success resets the attempts and keeps the response's validators for the next fetch.

    A 304 (``not_modified``) keeps the previous job's records as the task's current data. The
    planned run stays; a manual run that revived an exhausted task (none planned) puts it back
    on its grid. A one-off task is completed: no run is planned, whichever run succeeded.
    """
    next_run_at = None if is_one_off(task) else task.next_run_at or _next_grid_slot(task, now)
    return TaskRun(
        last_job_id=job_id,
        last_data_job_id=task.last_data_job_id if not_modified else job_id,
        etag=task.etag if not_modified else etag,
        last_modified=task.last_modified if not_modified else last_modified,
        last_execute_time=started_at,
        last_execution_status=JobStatus.SUCCEEDED.value,
        last_execution_error=None,
        last_execution_time=duration,
        attempt=0,
        next_run_at=next_run_at,
        last_success_at=now,
        stale_at=stale_at_after(now, task.stale_after),
    )


def stale_at_after(success_at: datetime, stale_after: int | None) -> datetime | None:
    """When a task with ``stale_after`` goes stale if nothing succeeds after ``success_at``."""
    return None if stale_after is None else success_at + timedelta(seconds=stale_after)


def _next_grid_slot(task: ScheduledTask, now: datetime) -> datetime | None:
    if not task.enabled or is_expired(task, now) or task.task_interval is None:
        return None
    return _inside_window(task, next_slot_after(task.start_time, task.task_interval, now))


def reschedules(changed: Set[str], task: ScheduledTask) -> bool:
    """Whether changing the ``changed`` fields (already applied to ``task``) moves its next run.

    A new url, interval or window does; so does raising ``max_attempt`` above the failures of
    an exhausted task (it has no run planned), which revives it.
    """
    revived = (
        "max_attempt" in changed and task.next_run_at is None and task.attempt < task.max_attempt
    )
    return bool(SCHEDULE_FIELDS & changed) or revived


def rescheduled_run_at(
    task: ScheduledTask, now: datetime, last_run_at: datetime | None, *, run_now: bool
) -> datetime | None:
    """A changed or resumed task's next run: on its grid after its last run; a missed slot now.

    A one-off task that never ran, or whose last run failed, runs at its start (now if that
    passed). One whose last run succeeded ran already: it runs again only if its start moved
    after that run (then at the new start), or with ``run_now`` (a new url); else it stays
    completed (no run planned). That also holds for an interval task turned one-off.
    """
    if run_now or last_run_at is None:
        return first_run_at(task.start_time, now)
    if task.task_interval is None:
        if task.last_execution_status != JobStatus.SUCCEEDED.value:
            return first_run_at(task.start_time, now)
        return task.start_time if task.start_time > last_run_at else None
    slot = next_slot_after(task.start_time, task.task_interval, last_run_at)
    return max(slot, first_run_at(task.start_time, now))


def reset_run_at(task: ScheduledTask, now: datetime) -> datetime | None:
    """A task whose attempts were reset runs at its start (now if that passed).

    A completed one-off task has no failures to forget: it stays completed (a manual run runs
    it again).
    """
    if is_completed(task):
        return None
    return first_run_at(task.start_time, now)


def execution_deadline(max_execution_time: int, config: Mapping[str, Any]) -> float:
    """A task's fetch deadline: its own limit, or the default when 0, capped by the maximum."""
    seconds = max_execution_time or config["FETCH_DEFAULT_TIMEOUT"]
    return float(min(seconds, config["MAX_EXECUTION_TIME"]))
