"""What GET /metrics shows: states read from the database and the queue, events summed in Redis.

States (jobs by status, tasks by state, queue depth) are read at scrape time from where they live,
so every web process answers the same numbers however many workers run, wherever. Events (jobs
finished, fetch durations, dispatch lags, HTTP requests) are summed in Redis by ``website.metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from website import metrics
from website.database import utcnow
from website.extensions import db
from website.redis_client import get_redis
from website.services.dispatch import job_queue
from website.services.notifications import count_stale_tasks, count_webhook_events
from website.services.stats import count_jobs_by_status, count_tasks_by_state

__all__ = ["render_metrics"]

logger = logging.getLogger(__name__)


class _DeploymentCollector:
    """Collects every metric at scrape time; a source that fails is reported as down."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "challenge_metrics_source_up",
            "Whether this scrape could read a source (database, redis)",
            labels=["source"],
        )
        try:
            yield from self._database_states()
            up.add_metric(["database"], 1)
        except Exception as error:  # a scrape reports what it can
            logger.warning("metrics: database unavailable: %s", error)
            up.add_metric(["database"], 0)
        finally:
            db.session.rollback()
        try:
            metrics.flush()  # this process's own latest increments are part of the answer
            backlog = job_queue().backlog()
            if backlog is None:
                raise ConnectionError("the job queue cannot say how many jobs wait")
            depth = GaugeMetricFamily(
                "challenge_queue_depth", "Jobs waiting in the queue for a worker"
            )
            depth.add_metric([], backlog)
            yield depth
            yield from metrics.collect_event_metrics(get_redis())
            up.add_metric(["redis"], 1)
        except Exception as error:
            logger.warning("metrics: redis unavailable: %s", error)
            up.add_metric(["redis"], 0)
        yield up

    def _database_states(self) -> Iterator[Metric]:
        jobs = GaugeMetricFamily(
            "challenge_jobs", "Jobs in the database, by status", labels=["status"]
        )
        for status, count in count_jobs_by_status(None).items():
            jobs.add_metric([status], count)
        tasks = GaugeMetricFamily("challenge_tasks", "Tasks, by state", labels=["state"])
        for state, count in count_tasks_by_state(None).items():
            tasks.add_metric([state], count)
        # A count, not a last-success timestamp per task: one series per task would grow with
        # the tasks (docs/notifications.md, "Staleness in Prometheus").
        stale = GaugeMetricFamily(
            "challenge_tasks_stale", "Tasks past their stale_after without a successful run"
        )
        stale.add_metric([], count_stale_tasks(utcnow()))
        events = GaugeMetricFamily(
            "challenge_webhook_events", "Webhook events, by delivery status", labels=["status"]
        )
        for status, count in count_webhook_events().items():
            events.add_metric([status], count)
        return iter((jobs, tasks, stale, events))


def render_metrics(accept_header: str) -> tuple[bytes, str]:
    """The exposition body and its content type, in the format the scraper accepts."""
    encoder, content_type = choose_encoder(accept_header)
    return encoder(_DeploymentCollector()), content_type
