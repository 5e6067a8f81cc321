"""Webhooks with real workers, beat and receivers: each event once, retries with the same id
and a valid signature, slow receivers that do not slow fetches, and a killed worker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.support.http_server import LocalHTTPServer, Reply, Request
from tests.support.processes import CeleryProcesses, wait_for
from tests.support.rows import jobs_of
from tests.support.webhooks import DOCUMENTED_VERIFY, answering
from website.database import read_only_transactions
from website.extensions import db
from website.models import EventStatus, JobStatus, Task, WebhookEvent

pytestmark = pytest.mark.slow

# Retries within a second, so that four attempts show in a test.
WEBHOOK_SETTINGS = {
    "WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "WEBHOOK_RETRY_MAX_SECONDS": "0.5",
    "WEBHOOK_TIMEOUT": "3",
}
ALL_EVENTS = ["task.exhausted", "task.recovered", "task.stale", "data.changed"]


def create_webhook(client: FlaskClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    response = client.post("/webhooks", json={"url": url, "events": ALL_EVENTS}, headers=headers)
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json
    return body


def outbox() -> list[WebhookEvent]:
    with read_only_transactions():
        query = select(WebhookEvent).order_by(WebhookEvent.id)
        rows = list(db.session.scalars(query.execution_options(populate_existing=True)))
    db.session.commit()
    return rows


def all_delivered() -> bool:
    rows = outbox()
    return bool(rows) and all(row.status == EventStatus.DELIVERED for row in rows)


def bodies(server: LocalHTTPServer) -> list[dict[str, Any]]:
    return [json.loads(request.body) for request in server.requests_to("/hook")]


def test_each_event_type_fires_once_per_occurrence(
    celery_processes: CeleryProcesses,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.route("/hook", answering(200))
    feed_calls: list[int] = []
    # A failure, a recovery, changed records, then failures until the task is exhausted; with no
    # success after that, the task goes stale.
    replies = [(500, []), (200, [{"id": 1}]), (200, [{"id": 1}, {"id": 2}])]

    def feed(_request: Request) -> Reply:
        feed_calls.append(1)
        status, records = replies[len(feed_calls) - 1] if len(feed_calls) <= 3 else (500, [])
        return Reply(status, json.dumps(records).encode(), {"Content-Type": "application/json"})

    http_server.route("/feed", feed)
    webhook = create_webhook(client, auth_headers, http_server.url("/hook"))
    celery_processes.worker(**WEBHOOK_SETTINGS)
    celery_processes.beat(**WEBHOOK_SETTINGS)
    task = make_task(url=http_server.url("/feed"), task_interval=1, max_attempt=3, stale_after=4)

    wait_for(
        lambda: {body["type"] for body in bodies(http_server)} >= set(ALL_EVENTS),
        timeout=90,
        message=celery_processes.logs(),
    )
    time.sleep(3)  # a few more ticks: nothing fires twice

    received = bodies(http_server)
    assert sorted(body["type"] for body in received) == sorted(ALL_EVENTS)
    assert {body["task_id"] for body in received} == {task.id}
    by_type = {body["type"]: body for body in received}
    jobs = jobs_of(task.id)
    assert by_type["task.recovered"]["job_id"] == jobs[1].id
    assert by_type["data.changed"]["job_id"] == jobs[2].id
    assert by_type["data.changed"]["data"]["added_ids"] == ["2"]
    assert by_type["task.exhausted"]["job_id"] == jobs[-1].id
    assert by_type["task.stale"]["job_id"] is None
    for request in http_server.requests_to("/hook"):
        assert DOCUMENTED_VERIFY(
            webhook["secret"], request.body, request.headers["X-Challenge-Signature"]
        )


def test_a_receiver_failing_three_times_gets_the_event_with_the_same_id_and_signed(
    celery_processes: CeleryProcesses,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.route("/hook", answering(500, 500, 500, 200))
    http_server.json("/feed", {"error": "down"}, status=500)
    webhook = create_webhook(client, auth_headers, http_server.url("/hook"))
    celery_processes.worker(**WEBHOOK_SETTINGS)
    celery_processes.beat(**WEBHOOK_SETTINGS)
    make_task(url=http_server.url("/feed"), max_attempt=1)

    wait_for(all_delivered, timeout=90, message=celery_processes.logs())

    requests = http_server.requests_to("/hook")
    assert len(requests) == 4
    assert len({json.loads(request.body)["id"] for request in requests}) == 1
    assert {json.loads(request.body)["type"] for request in requests} == {"task.exhausted"}
    last = requests[-1]
    assert DOCUMENTED_VERIFY(webhook["secret"], last.body, last.headers["X-Challenge-Signature"])
    attempts = client.get(f"/webhooks/{webhook['id']}/deliveries", headers=auth_headers).json
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [
        (4, 200),
        (3, 500),
        (2, 500),
        (1, 500),
    ]


def test_a_receiver_that_never_answers_does_not_slow_fetch_jobs(
    celery_processes: CeleryProcesses,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
    release: threading.Event,
) -> None:
    def never_answers(_request: Request) -> Reply:
        release.wait(timeout=120)
        return Reply(200)

    http_server.route("/hook", never_answers)
    http_server.json("/feed", [{"id": 1}])
    webhook = create_webhook(client, auth_headers, http_server.url("/hook"))
    settings = {**WEBHOOK_SETTINGS, "WEBHOOK_TIMEOUT": "120", "WEBHOOK_MAX_IN_FLIGHT": "1"}
    celery_processes.worker(concurrency=2, **settings)
    celery_processes.beat(**settings)
    for _ in range(3):
        assert (
            client.post(f"/webhooks/{webhook['id']}/test", headers=auth_headers).status_code == 202
        )
    wait_for(lambda: len(http_server.requests_to("/hook")) == 1, timeout=60)

    task = make_task(url=http_server.url("/feed"), task_interval=1)
    wait_for(
        lambda: sum(job.status == JobStatus.SUCCEEDED for job in jobs_of(task.id)) >= 3,
        timeout=60,
        message=celery_processes.logs(),
    )

    assert len(http_server.requests_to("/hook")) == 1  # the others wait in the database
    release.set()
    wait_for(all_delivered, timeout=60, message=celery_processes.logs())
    assert len(http_server.requests_to("/hook")) == 3


def test_a_worker_killed_mid_delivery_loses_nothing(
    celery_processes: CeleryProcesses,
    client: FlaskClient,
    auth_headers: dict[str, str],
    http_server: LocalHTTPServer,
    release: threading.Event,
) -> None:
    def hangs_the_first_time(request: Request) -> Reply:
        if len(http_server.requests_to("/hook")) == 1:
            release.wait(timeout=120)
        return Reply(200)

    http_server.route("/hook", hangs_the_first_time)
    webhook = create_webhook(client, auth_headers, http_server.url("/hook"))
    doomed = celery_processes.worker(**WEBHOOK_SETTINGS)
    celery_processes.beat(**WEBHOOK_SETTINGS)
    ping = client.post(f"/webhooks/{webhook['id']}/test", headers=auth_headers).json
    wait_for(lambda: len(http_server.requests_to("/hook")) == 1, timeout=60)

    doomed.kill()
    release.set()
    celery_processes.worker(**WEBHOOK_SETTINGS)

    wait_for(all_delivered, timeout=90, message=celery_processes.logs())
    requests = http_server.requests_to("/hook")
    assert len(requests) == 2
    assert {json.loads(request.body)["id"] for request in requests} == {ping["event_id"]}
    last = requests[-1]
    assert DOCUMENTED_VERIFY(webhook["secret"], last.body, last.headers["X-Challenge-Signature"])
