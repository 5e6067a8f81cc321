"""The schedule rules, as pure functions: grid, claim, backoff, failure, success, reschedule."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from website.services.schedule import (
    ONE_OFF_MAX_RETRY_DELAY,
    catch_up_window,
    execution_deadline,
    failed_run,
    first_run_at,
    is_runnable,
    next_run_after_claim,
    next_slot_after,
    rescheduled_run_at,
    reschedules,
    reset_run_at,
    retry_delay,
    succeeded_run,
)

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
CATCH_UP = timedelta(seconds=1)


def at(seconds: float) -> datetime:
    """``seconds`` after START."""
    return START + timedelta(seconds=seconds)


@dataclass(frozen=True)
class Fields:
    """A task's schedule fields, as a locked task row carries them."""

    start_time: datetime = START
    end_time: datetime | None = None
    task_interval: int | None = 10
    retry_backoff: float = 1.0
    attempt: int = 0
    max_attempt: int = 3
    enabled: bool = True
    next_run_at: datetime | None = None
    last_data_job_id: int | None = 7
    last_execution_status: str | None = None
    etag: str | None = '"old"'
    last_modified: str | None = "Mon, 01 Jan 2030 00:00:00 GMT"
    stale_after: int | None = None
    stale_at: datetime | None = None
    last_success_at: datetime | None = None


@pytest.mark.parametrize(
    ("after", "expected"),
    [(-5, 0), (0, 10), (3, 10), (10, 20), (10.5, 20), (95, 100)],
)
def test_next_slot_after_is_the_first_grid_slot_strictly_after(after: float, expected: int) -> None:
    assert next_slot_after(START, 10, at(after)) == at(expected)


@pytest.mark.parametrize(("now", "expected"), [(-30, 0), (0, 0), (42, 42)])
def test_a_new_task_first_runs_at_its_start_or_now_if_that_passed(now: int, expected: int) -> None:
    assert first_run_at(START, at(now)) == at(expected)


@pytest.mark.parametrize(
    ("fields", "now", "runnable"),
    [
        pytest.param(Fields(), 5, True, id="active"),
        pytest.param(Fields(), -1, False, id="pending"),
        pytest.param(Fields(end_time=at(60)), 60, False, id="expired-at-the-end"),
        pytest.param(Fields(attempt=3), 5, False, id="exhausted"),
    ],
)
def test_claiming_queues_a_job_only_inside_the_window_with_attempts_left(
    fields: Fields, now: int, runnable: bool
) -> None:
    assert is_runnable(fields, at(now)) is runnable


@pytest.mark.parametrize(
    ("fields", "claimed", "now", "expected"),
    [
        pytest.param(Fields(), 20, 20.2, 30, id="next-slot"),
        pytest.param(Fields(), 0, 3605, 3610, id="missed-slots-coalesce"),
        pytest.param(Fields(task_interval=1), 9, 10.5, 10, id="late-slot-still-runs"),
        pytest.param(Fields(task_interval=1), 9, 11.5, 12, id="slot-late-by-more-than-catch-up"),
        pytest.param(Fields(), 0, -30, 0, id="pending-waits-for-its-start"),
        pytest.param(Fields(end_time=at(30)), 20, 20.5, None, id="next-slot-is-the-end"),
        pytest.param(Fields(end_time=at(30)), 20, 30, None, id="expired"),
        pytest.param(Fields(attempt=3), 20, 20.5, None, id="exhausted"),
    ],
)
def test_a_claimed_task_moves_to_its_next_grid_slot_or_nowhere(
    fields: Fields, claimed: int, now: float, expected: int | None
) -> None:
    next_run = next_run_after_claim(fields, at(claimed), at(now), CATCH_UP)

    assert next_run == (None if expected is None else at(expected))


@pytest.mark.parametrize(("tick", "seconds"), [(0.2, 1.0), (1.0, 1.0), (5.0, 5.0)])
def test_a_slot_late_by_less_than_a_tick_or_a_second_is_caught_up(
    tick: float, seconds: float
) -> None:
    assert catch_up_window(tick) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("attempt", "interval", "base"),
    [(1, 60, 1), (2, 60, 2), (3, 60, 4), (6, 60, 32), (7, 60, 60), (30, 60, 60), (4, 5, 5)],
)
def test_retry_delay_doubles_from_one_second_up_to_the_interval(
    attempt: int, interval: int, base: float
) -> None:
    delays = [retry_delay(attempt, interval) for _ in range(50)]

    assert all(base <= delay <= min(base * 1.1, interval) for delay in delays)


def fail(fields: Fields, now: float) -> tuple[int, datetime | None]:
    run = failed_run(
        fields, job_id=9, status="failed", error="500", duration=0.5, started_at=at(0), now=at(now)
    )
    return run.attempt, run.next_run_at


def test_a_failure_counts_an_attempt_and_retries_after_a_second_with_jitter() -> None:
    attempt, next_run_at = fail(Fields(attempt=0, next_run_at=at(20)), 10)

    assert attempt == 1
    assert next_run_at is not None
    assert at(11) <= next_run_at <= at(11.1)


def test_a_retry_never_falls_before_the_window_opens() -> None:
    assert fail(Fields(start_time=at(100)), 10) == (1, at(100))


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(Fields(attempt=2, max_attempt=3), id="the-last-attempt-exhausts"),
        pytest.param(Fields(end_time=at(10.5)), id="the-retry-would-fall-after-the-end"),
    ],
)
def test_a_failure_plans_no_retry_when_exhausted_or_past_the_window(fields: Fields) -> None:
    assert fail(fields, 10)[1] is None


def test_a_failure_keeps_the_tasks_data_and_validators_and_records_the_error() -> None:
    run = failed_run(
        Fields(),
        job_id=9,
        status="timed_out",
        error="slow",
        duration=2.0,
        started_at=at(1),
        now=at(3),
    )

    assert (run.last_job_id, run.last_data_job_id, run.etag) == (9, 7, '"old"')
    assert (run.last_execution_status, run.last_execution_error) == ("timed_out", "slow")
    assert (run.last_execute_time, run.last_execution_time) == (at(1), 2.0)


def succeed(fields: Fields, now: float, *, not_modified: bool = False) -> tuple[object, ...]:
    run = succeeded_run(
        fields,
        job_id=9,
        started_at=at(now - 1),
        duration=1.0,
        not_modified=not_modified,
        etag='"new"',
        last_modified=None,
        now=at(now),
    )
    return run.attempt, run.next_run_at, run.last_data_job_id, run.etag


def test_a_success_resets_the_attempts_and_keeps_the_planned_run() -> None:
    assert succeed(Fields(attempt=2, next_run_at=at(40)), 35) == (0, at(40), 9, '"new"')


def test_a_304_keeps_the_previous_jobs_data_and_validators() -> None:
    assert succeed(Fields(next_run_at=at(40)), 35, not_modified=True) == (0, at(40), 7, '"old"')


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(Fields(attempt=3), 40, id="revived-back-on-its-grid"),
        pytest.param(Fields(attempt=3, enabled=False), None, id="paused-stays-unplanned"),
        pytest.param(Fields(attempt=3, end_time=at(40)), None, id="next-slot-is-the-end"),
        pytest.param(Fields(attempt=3, end_time=at(30)), None, id="expired"),
    ],
)
def test_a_manual_success_of_an_exhausted_task_plans_its_next_grid_slot(
    fields: Fields, expected: int | None
) -> None:
    next_run_at = succeed(fields, 35)[1]

    assert next_run_at == (None if expected is None else at(expected))


@pytest.mark.parametrize(
    ("changed", "fields", "moves"),
    [
        pytest.param({"url"}, Fields(next_run_at=at(10)), True, id="url"),
        pytest.param({"task_interval"}, Fields(next_run_at=at(10)), True, id="interval"),
        pytest.param({"start_time", "name"}, Fields(next_run_at=at(10)), True, id="window"),
        pytest.param({"name", "priority"}, Fields(next_run_at=at(10)), False, id="name"),
        pytest.param({"max_attempt"}, Fields(attempt=3, max_attempt=5), True, id="revived"),
        pytest.param({"max_attempt"}, Fields(attempt=3, max_attempt=3), False, id="still-dead"),
        pytest.param({"max_attempt"}, Fields(next_run_at=at(10)), False, id="planned-already"),
    ],
)
def test_changing_the_schedule_or_reviving_an_exhausted_task_reschedules_it(
    changed: set[str], fields: Fields, moves: bool
) -> None:
    assert reschedules(changed, fields) is moves


@pytest.mark.parametrize(
    ("last_run", "now", "run_now", "expected"),
    [
        pytest.param(None, 25, False, 25, id="never-ran-runs-now"),
        pytest.param(20, 25, True, 25, id="new-url-runs-now"),
        pytest.param(20, 25, False, 30, id="next-slot-after-the-last-run"),
        pytest.param(20, 47, False, 47, id="a-missed-slot-runs-now"),
        pytest.param(None, -30, False, 0, id="pending-waits-for-its-start"),
    ],
)
def test_a_changed_or_resumed_task_goes_back_on_its_grid(
    last_run: int | None, now: int, run_now: bool, expected: int
) -> None:
    last_run_at = None if last_run is None else at(last_run)

    assert rescheduled_run_at(Fields(), at(now), last_run_at, run_now=run_now) == at(expected)


def test_a_rescheduled_task_follows_its_new_interval() -> None:
    fields = replace(Fields(), task_interval=30)

    assert rescheduled_run_at(fields, at(40), at(35), run_now=False) == at(60)


@pytest.mark.parametrize(
    ("own", "expected"),
    [pytest.param(0, 30.0, id="default"), (12, 12.0), pytest.param(900, 300.0, id="capped")],
)
def test_the_fetch_deadline_is_the_tasks_own_or_the_default_capped_by_the_maximum(
    own: int, expected: float
) -> None:
    config = {"FETCH_DEFAULT_TIMEOUT": 30, "MAX_EXECUTION_TIME": 300}

    assert execution_deadline(own, config) == expected


@pytest.mark.parametrize(
    ("attempt", "backoff", "base"),
    [(1, 5.0, 5), (2, 5.0, 10), (4, 5.0, 40), (1, 0.25, 0.25), (3, 0.25, 1), (20, 2.0, 60)],
)
def test_retry_delay_doubles_from_the_tasks_backoff_up_to_the_interval(
    attempt: int, backoff: float, base: float
) -> None:
    delays = [retry_delay(attempt, 60, backoff) for _ in range(50)]

    assert all(base <= delay <= min(base * 1.1, 60) for delay in delays)


def test_a_backoff_longer_than_the_interval_waits_the_interval() -> None:
    assert retry_delay(1, 10, 3600.0) == 10


@pytest.mark.parametrize(
    ("attempt", "backoff", "base"),
    [(1, 1.0, 1), (5, 1.0, 16), (1, 3600.0, 3600), (6, 3600.0, ONE_OFF_MAX_RETRY_DELAY)],
)
def test_a_one_off_tasks_retry_delay_is_capped_at_a_day(
    attempt: int, backoff: float, base: float
) -> None:
    delays = [retry_delay(attempt, None, backoff) for _ in range(50)]

    assert all(base <= delay <= min(base * 1.1, ONE_OFF_MAX_RETRY_DELAY) for delay in delays)


def test_even_the_hundredth_retry_delay_is_a_number_within_the_cap() -> None:
    assert retry_delay(100, None, 3600.0) == ONE_OFF_MAX_RETRY_DELAY


ONE_OFF = Fields(task_interval=None)


@pytest.mark.parametrize(
    ("fields", "claimed", "now", "expected"),
    [
        pytest.param(ONE_OFF, 0, 0.2, None, id="its-one-run-is-claimed"),
        pytest.param(ONE_OFF, 0, 3605, None, id="late-still-one-run"),
        pytest.param(replace(ONE_OFF, attempt=1), 11, 11.1, None, id="a-retry-is-claimed"),
        pytest.param(ONE_OFF, 0, -30, 0, id="pending-waits-for-its-start"),
    ],
)
def test_claiming_a_one_off_task_plans_no_further_run(
    fields: Fields, claimed: int, now: float, expected: int | None
) -> None:
    assert is_runnable(fields, at(now)) is (now >= 0)
    next_run = next_run_after_claim(fields, at(claimed), at(now), CATCH_UP)

    assert next_run == (None if expected is None else at(expected))


def test_a_failed_one_off_run_retries_after_its_backoff_then_exhausts() -> None:
    fields = replace(ONE_OFF, retry_backoff=4.0, max_attempt=3)

    first = fail(fields, 10)
    second = fail(replace(fields, attempt=1), 20)
    last = fail(replace(fields, attempt=2), 30)

    assert first[0] == 1
    assert first[1] is not None
    assert at(14) <= first[1] <= at(14.4)
    assert second[0] == 2
    assert second[1] is not None
    assert at(28) <= second[1] <= at(28.8)
    assert last == (3, None)  # exhausted: no run planned


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param(ONE_OFF, id="its-run"),
        pytest.param(replace(ONE_OFF, attempt=2, next_run_at=at(50)), id="a-manual-run-retrying"),
        pytest.param(replace(ONE_OFF, next_run_at=at(50)), id="a-manual-run-before-its-start"),
        pytest.param(replace(ONE_OFF, attempt=3), id="a-manual-run-of-an-exhausted-task"),
    ],
)
def test_a_successful_one_off_run_completes_the_task(fields: Fields) -> None:
    assert succeed(fields, 35)[:2] == (0, None)


COMPLETED = replace(ONE_OFF, last_execution_status="succeeded")


@pytest.mark.parametrize(
    ("fields", "last_run", "now", "run_now", "expected"),
    [
        pytest.param(ONE_OFF, None, 25, False, 25, id="never-ran-runs-now"),
        pytest.param(ONE_OFF, None, -30, False, 0, id="never-ran-waits-for-its-start"),
        pytest.param(
            replace(ONE_OFF, last_execution_status="failed"), 20, 25, False, 25, id="retrying"
        ),
        pytest.param(COMPLETED, 20, 25, False, None, id="completed-stays-completed"),
        pytest.param(COMPLETED, 20, 25, True, 25, id="completed-with-a-new-url-runs-again"),
        pytest.param(
            replace(COMPLETED, start_time=at(60)), 20, 25, False, 60, id="completed-moved-later"
        ),
    ],
)
def test_a_changed_or_resumed_one_off_task_runs_once_unless_it_completed(
    fields: Fields, last_run: int | None, now: int, run_now: bool, expected: int | None
) -> None:
    last_run_at = None if last_run is None else at(last_run)

    next_run = rescheduled_run_at(fields, at(now), last_run_at, run_now=run_now)

    assert next_run == (None if expected is None else at(expected))


def test_an_interval_task_turned_one_off_after_a_success_is_completed() -> None:
    turned = replace(Fields(last_execution_status="succeeded"), task_interval=None)

    assert rescheduled_run_at(turned, at(25), at(20), run_now=False) is None


def test_a_one_off_task_turned_interval_goes_on_the_grid_after_its_last_run() -> None:
    turned = replace(COMPLETED, task_interval=10)

    assert rescheduled_run_at(turned, at(25), at(20), run_now=False) == at(30)


@pytest.mark.parametrize(
    ("fields", "now", "expected"),
    [
        pytest.param(Fields(attempt=3), 25, 25, id="exhausted-runs-now"),
        pytest.param(replace(ONE_OFF, attempt=3), 25, 25, id="exhausted-one-off-runs-now"),
        pytest.param(Fields(attempt=3), -30, 0, id="pending-waits-for-its-start"),
        pytest.param(COMPLETED, 25, None, id="completed-stays-completed"),
    ],
)
def test_resetting_the_attempts_runs_the_task_at_its_start_or_now(
    fields: Fields, now: int, expected: int | None
) -> None:
    assert reset_run_at(fields, at(now)) == (None if expected is None else at(expected))


def test_a_success_starts_a_new_stale_period_and_a_failure_keeps_the_current_one() -> None:
    task = Fields(stale_after=60, stale_at=at(30), last_success_at=at(-30))
    succeeded = succeeded_run(
        task,
        job_id=1,
        started_at=at(5),
        duration=1.0,
        not_modified=False,
        etag=None,
        last_modified=None,
        now=at(6),
    )
    assert (succeeded.last_success_at, succeeded.stale_at) == (at(6), at(66))
    failed = failed_run(
        task, job_id=2, status="failed", error="x", duration=1.0, started_at=at(5), now=at(6)
    )
    assert (failed.last_success_at, failed.stale_at) == (at(-30), at(30))
