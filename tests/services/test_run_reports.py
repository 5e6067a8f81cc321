"""The run report: counts by status, mean and p95 run time, the slowest runs, the unfinished."""

from __future__ import annotations

import pytest

from website.services.run_reports import JobOutcome, run_report


def outcome(job_id: int, status: str, duration: float | None = None) -> JobOutcome:
    return JobOutcome(job_id, job_id * 10, f"task {job_id}", status, duration, None)


def test_a_report_counts_each_status_and_names_the_slowest_five() -> None:
    outcomes = [
        outcome(1, "succeeded", 0.2),
        outcome(2, "succeeded", 1.5),
        outcome(3, "failed", 0.1),
        outcome(4, "timed_out", 5.0),
        outcome(5, "lost", None),
        outcome(6, "succeeded", 0.4),
        outcome(7, "succeeded", 0.3),
        outcome(8, "running"),
    ]

    report = run_report(outcomes, wall_time=6.5)

    assert (report.total, report.succeeded, report.failed) == (8, 4, 3)
    assert report.by_status == {"failed": 1, "timed_out": 1, "lost": 1, "cancelled": 0}
    assert [o.job_id for o in report.unfinished] == [8]
    assert not report.all_succeeded
    assert [o.job_id for o in report.slowest] == [4, 2, 6, 7, 1]
    assert report.mean_time == pytest.approx((0.2 + 1.5 + 0.1 + 5.0 + 0.4 + 0.3) / 6)
    assert report.p95_time == 5.0
    assert report.wall_time == 6.5


def test_p95_is_the_nearest_rank_of_the_finished_runs() -> None:
    outcomes = [outcome(number, "succeeded", float(number)) for number in range(1, 21)]

    report = run_report(outcomes, wall_time=1.0)

    assert report.p95_time == 19.0
    assert report.all_succeeded


def test_a_report_of_nothing_finished_has_no_times() -> None:
    report = run_report([outcome(1, "queued")], wall_time=0.5)

    assert (report.mean_time, report.p95_time, report.slowest) == (None, None, [])
    assert report.as_dict()["unfinished"][0]["status"] == "queued"
