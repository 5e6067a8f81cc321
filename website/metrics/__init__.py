"""Event metrics (jobs finished, fetch time, dispatch lag, HTTP requests), summed in Redis.

Web, worker and beat processes may run on several machines, so each adds its increments to Redis
(``redis_sink``) and the /metrics view of any web process reads the deployment's sums back.
"""

from __future__ import annotations

import atexit
import json
import math
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import redis
from flask import Flask, Response, request
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from website.metrics.redis_sink import RedisSink

__all__ = [
    "DISPATCH_LAG",
    "EVENT_METRICS",
    "FETCH_DURATION",
    "HTTP_REQUESTS",
    "JOBS_FINISHED",
    "EventMetric",
    "collect_event_metrics",
    "flush",
    "init_app",
    "record_dispatch",
    "record_http_request",
    "record_job_finished",
]


KEY_PREFIX = "challenge:metrics:"  # one Redis hash per metric
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "<unmatched>"  # 404s share one label value, so paths cannot explode the series


@dataclass(frozen=True)
class EventMetric:
    """A counter, or a histogram when it has buckets, stored in the Redis hash ``key``."""

    name: str
    documentation: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def key(self) -> str:
        return f"{KEY_PREFIX}{self.name}"


JOBS_FINISHED = EventMetric(
    "challenge_jobs_finished", "Jobs that reached a final state, by status", ("status",)
)
FETCH_DURATION = EventMetric(
    "challenge_fetch_duration_seconds",
    "Time a job took from start to finish",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
DISPATCH_LAG = EventMetric(
    "challenge_dispatch_lag_seconds",
    "Delay from a job's scheduled slot to its publication on the queue",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
HTTP_REQUESTS = EventMetric(
    "challenge_http_requests",
    "HTTP requests answered, by method, route and status",
    ("method", "route", "status"),
)
EVENT_METRICS = (JOBS_FINISHED, FETCH_DURATION, DISPATCH_LAG, HTTP_REQUESTS)


def _series(values: Sequence[str]) -> str:
    return json.dumps(list(values))


_sink = RedisSink()


def _count(metric: EventMetric, values: Sequence[str], amount: float = 1) -> None:
    _sink.add(metric.key, {_series(values): amount})


def _observe(metric: EventMetric, value: float, values: Sequence[str] = ()) -> None:
    series = _series(values)
    bucket = next((bound for bound in metric.buckets if value <= bound), math.inf)
    _sink.add(
        metric.key,
        {
            f"{series}|le={floatToGoString(bucket)}": 1,
            f"{series}|sum": value,
        },
    )


def record_job_finished(status: str, duration: float | None) -> None:
    """Count a job that reached a final state, and observe how long it ran."""
    _count(JOBS_FINISHED, (status,))
    if duration is not None:
        _observe(FETCH_DURATION, max(duration, 0.0))


def record_dispatch(lag_seconds: float) -> None:
    """Observe the delay between a job's slot and its publication."""
    _observe(DISPATCH_LAG, max(lag_seconds, 0.0))


def record_http_request(method: str, route: str, status: int) -> None:
    """Count one answered HTTP request under its route template (not its concrete path)."""
    _count(HTTP_REQUESTS, (method if method in HTTP_METHODS else "OTHER", route, str(status)))


def flush() -> bool:
    """Write this process's buffered increments to Redis now (True when nothing is left)."""
    return _sink.flush()


def collect_event_metrics(client: redis.Redis) -> Iterator[Metric]:
    """The deployment-wide event metrics, read back from Redis."""
    pipeline = client.pipeline(transaction=False)
    for metric in EVENT_METRICS:
        pipeline.hgetall(metric.key)
    for metric, stored in zip(EVENT_METRICS, pipeline.execute(), strict=True):
        if metric.buckets:
            yield _histogram_family(metric, stored)
        else:
            family = CounterMetricFamily(metric.name, metric.documentation, labels=metric.labels)
            for series, value in sorted(stored.items()):
                family.add_metric(json.loads(series), float(value))
            yield family


def _histogram_family(metric: EventMetric, stored: dict[str, str]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(metric.name, metric.documentation, labels=metric.labels)
    by_series: defaultdict[str, dict[str, float]] = defaultdict(dict)
    for field, value in stored.items():
        series, part = field.rsplit("|", 1)
        by_series[series][part] = float(value)
    for series, parts in sorted(by_series.items()):
        cumulative = 0.0
        buckets = []
        for bound in (*metric.buckets, math.inf):
            label = floatToGoString(bound)
            cumulative += parts.get(f"le={label}", 0.0)
            buckets.append((label, cumulative))
        family.add_metric(json.loads(series), buckets, sum_value=parts.get("sum", 0.0))
    return family


def _record_request(response: Response) -> Response:
    route = request.url_rule.rule if request.url_rule is not None else UNMATCHED_ROUTE
    record_http_request(request.method, route, response.status_code)
    return response


def init_app(app: Flask) -> None:
    _sink.connect(app.config["REDIS_URL"])
    app.after_request(_record_request)


atexit.register(flush)
