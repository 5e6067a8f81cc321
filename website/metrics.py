"""Prometheus metrics recorded by the engine and the API.

PRELIMINARY: the metric objects and the functions other modules call. The shipping work adds the
/metrics endpoint, multi-process collection and more metrics without changing these functions.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = ["record_dispatch", "record_job_finished"]

JOBS_FINISHED = Counter(
    "challenge_jobs_finished_total", "Jobs that reached a final state", ["status"]
)
FETCH_DURATION = Histogram("challenge_fetch_duration_seconds", "Time a job took, start to finish")
DISPATCH_LAG = Histogram(
    "challenge_dispatch_lag_seconds", "Delay from a job's scheduled slot to its publication"
)


def record_job_finished(status: str, duration: float | None) -> None:
    """Count a job that reached a final state, and observe how long it ran."""
    JOBS_FINISHED.labels(status=status).inc()
    if duration is not None:
        FETCH_DURATION.observe(duration)


def record_dispatch(lag_seconds: float) -> None:
    """Observe the delay between a job's slot and its publication."""
    DISPATCH_LAG.observe(max(lag_seconds, 0.0))
