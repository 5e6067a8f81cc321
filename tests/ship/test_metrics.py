"""GET /metrics: states from the database and the queue, events summed across processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from celery_app.queue import RUN_JOB_TASK
from tests.ship.scrape import scrape
from tests.support.rows import set_task
from website import create_app
from website.extensions import db
from website.metrics import record_dispatch, record_http_request, record_job_finished
from website.models import Job, JobStatus, Task, User

SUBPROCESS_TIMEOUT_SECONDS = 60


def add_jobs(task: Task, *statuses: JobStatus) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    for offset, status in enumerate(statuses):
        db.session.add(
            Job(task_id=task.id, scheduled_for=start + timedelta(seconds=offset), status=status)
        )
    db.session.commit()


def test_metrics_answer_every_family_in_the_prometheus_text_format(client: FlaskClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    families = scrape(client).families
    assert {
        "challenge_jobs": "gauge",
        "challenge_tasks": "gauge",
        "challenge_queue_depth": "gauge",
        "challenge_jobs_finished": "counter",
        "challenge_fetch_duration_seconds": "histogram",
        "challenge_dispatch_lag_seconds": "histogram",
        "challenge_http_requests": "counter",
    }.items() <= {name: family.type for name, family in families.items()}.items()


def test_metrics_speak_openmetrics_to_a_scraper_that_asks_for_it(client: FlaskClient) -> None:
    response = client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert response.status_code == 200
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.get_data(as_text=True).rstrip().endswith("# EOF")


def test_jobs_and_tasks_are_counted_by_status_and_state(
    client: FlaskClient, make_task: Callable[..., Task]
) -> None:
    now = datetime.now(UTC)
    active = make_task(name="active")
    make_task(name="paused", enabled=False)
    make_task(name="pending", start_time=now + timedelta(days=1))
    make_task(name="expired", start_time=now - timedelta(days=2), end_time=now - timedelta(days=1))
    make_task(name="exhausted", attempt=3, max_attempt=3)
    done = make_task(name="completed", task_interval=None)  # a one-off task whose run succeeded
    set_task(done.id, next_run_at=None, last_execution_status=JobStatus.SUCCEEDED)
    add_jobs(active, JobStatus.SUCCEEDED, JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.LOST)

    metrics = scrape(client)

    assert {
        state: metrics.value("challenge_tasks", state=state)
        for state in ("active", "paused", "pending", "expired", "exhausted", "completed")
    } == dict.fromkeys(("active", "paused", "pending", "expired", "exhausted", "completed"), 1)
    assert metrics.value("challenge_jobs", status="succeeded") == 2
    assert metrics.value("challenge_jobs", status="failed") == 1
    assert metrics.value("challenge_jobs", status="lost") == 1
    assert metrics.value("challenge_jobs", status="running") == 0


def test_queue_depth_counts_messages_waiting_for_a_worker_at_every_priority(
    client: FlaskClient, app: Flask
) -> None:
    for priority in (0, 3, 9, 9):
        app.extensions["celery"].send_task(RUN_JOB_TASK, args=[0], priority=priority)
    assert scrape(client).value("challenge_queue_depth") == 4


def test_http_requests_are_counted_by_route_template_and_status(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    before = scrape(client)
    client.get("/healthz")
    client.get("/healthz")
    client.get("/users/me", headers=auth_headers)
    client.get("/users/me")
    client.get("/no/such/page/123")

    after = scrape(client)

    def delta(route: str, status: str) -> float:
        labels = {"method": "GET", "route": route, "status": status}
        total = "challenge_http_requests_total"
        return after.value(total, **labels) - before.value(total, **labels)

    assert delta("/healthz", "200") == 2
    assert delta("/users/me", "200") == 1
    assert delta("/users/me", "401") == 1
    assert delta("<unmatched>", "404") == 1


def test_job_outcomes_fill_the_counter_and_the_duration_histogram(client: FlaskClient) -> None:
    before = scrape(client)
    record_job_finished("succeeded", 0.07)
    record_job_finished("succeeded", 3.0)
    record_job_finished("timed_out", 400.0)
    record_job_finished("lost", None)  # a lost job's duration is unknown

    after = scrape(client)

    def delta(read: Callable[..., float], *args: object, **labels: str) -> float:
        return read(after, *args, **labels) - read(before, *args, **labels)

    finished = "challenge_jobs_finished_total"
    value, bucket = type(after).value, type(after).bucket
    assert delta(value, finished, status="succeeded") == 2
    assert delta(value, finished, status="timed_out") == 1
    assert delta(value, finished, status="lost") == 1
    duration = "challenge_fetch_duration_seconds"
    assert delta(bucket, duration, 0.1) == 1
    assert delta(bucket, duration, 5.0) == 2
    assert delta(bucket, duration, 300.0) == 2
    assert delta(bucket, duration, float("inf")) == 3
    assert delta(value, f"{duration}_sum") == pytest.approx(403.07)


def test_events_recorded_in_another_process_show_in_this_ones_metrics(
    client: FlaskClient, test_environment: dict[str, str]
) -> None:
    before = scrape(client)
    script = textwrap.dedent(
        """
        from website import create_app
        from website.metrics import record_dispatch, record_job_finished
        create_app()
        record_job_finished("failed", 1.5)
        record_dispatch(0.2)
        """
    )
    subprocess.run(
        [sys.executable, "-c", script], check=True, timeout=SUBPROCESS_TIMEOUT_SECONDS
    )  # it flushes on exit

    after = scrape(client)
    finished = "challenge_jobs_finished_total"
    assert after.value(finished, status="failed") == before.value(finished, status="failed") + 1
    lag = "challenge_dispatch_lag_seconds"
    assert after.bucket(lag, 0.25) == before.bucket(lag, 0.25) + 1
    assert after.value(f"{lag}_count") == before.value(f"{lag}_count") + 1


def test_dispatch_lag_lands_in_the_smallest_bucket_that_holds_it(client: FlaskClient) -> None:
    before = scrape(client)
    record_dispatch(0.03)
    record_dispatch(7.0)
    record_dispatch(-0.5)  # clocks disagree: a job published "before" its slot counts as 0
    after = scrape(client)
    lag = "challenge_dispatch_lag_seconds"
    assert after.bucket(lag, 0.01) - before.bucket(lag, 0.01) == 1
    assert after.bucket(lag, 0.05) - before.bucket(lag, 0.05) == 2
    assert after.bucket(lag, 5.0) - before.bucket(lag, 5.0) == 2
    assert after.bucket(lag, 10.0) - before.bucket(lag, 10.0) == 3


def test_unknown_http_methods_share_one_label_value(client: FlaskClient) -> None:
    before = scrape(client)
    record_http_request("BREW", "/healthz", 405)
    after = scrape(client)
    labels = {"method": "OTHER", "route": "/healthz", "status": "405"}
    total = "challenge_http_requests_total"
    assert after.value(total, **labels) == before.value(total, **labels) + 1


def test_metrics_still_answer_from_the_database_when_redis_is_down(
    app: Flask, user: User, make_task: Callable[..., Task]
) -> None:
    make_task()
    unreachable = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0"})
    try:
        with unreachable.app_context():
            metrics = scrape(unreachable.test_client())
            db.session.remove()
            db.engine.dispose()
    finally:
        create_app({"TESTING": True})  # point this process's metrics back at the session's Redis
    assert metrics.value("challenge_metrics_source_up", source="redis") == 0
    assert metrics.value("challenge_metrics_source_up", source="database") == 1
    assert metrics.value("challenge_tasks", state="active") == 1
    assert "challenge_queue_depth" not in metrics.families
