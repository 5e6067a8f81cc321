"""The event rules, in process: each state change writes its event once, to the webhooks that
want it, in the transaction of the change; and one delivery attempt, signed, against a real
local receiver."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from tests.support.broker import queued_messages
from tests.support.http_server import LocalHTTPServer, Reply
from tests.support.rows import set_job, task_row
from tests.support.webhooks import DOCUMENTED_VERIFY, answering
from website.extensions import db
from website.models import EventStatus, Task, User, Webhook, WebhookDelivery, WebhookEvent
from website.redis_client import get_redis
from website.services import notifications, webhook_delivery
from website.services.executor import claim_job, run_job
from website.services.manual_runs import run_task_now
from website.services.reconciler import mark_lost_jobs
from website.services.webhooks import create_webhook, send_test_event

ALL_EVENTS = ["task.exhausted", "task.recovered", "task.stale", "data.changed"]
RECORDS = [{"id": 1, "name": "ada"}, {"id": 2, "name": "grace"}, {"id": 3, "name": "linus"}]


def webhook_for(user: User, url: str = "http://127.0.0.1:9/hook", **values: Any) -> Webhook:
    return create_webhook(user.id, {"url": url, "events": ALL_EVENTS, **values})


def events() -> list[WebhookEvent]:
    query = select(WebhookEvent).order_by(WebhookEvent.id)
    rows = list(db.session.scalars(query.execution_options(populate_existing=True)))
    db.session.commit()
    return rows


def types() -> list[str]:
    return [event.type for event in events()]


def run_once(task: Task) -> str | None:
    """Queue a run of the task and run it as a worker would."""
    job_id = run_task_now(task.id).id
    [message] = [m for m in queued_messages(get_redis()) if m.args == [job_id]]
    return run_job(*message.args, **message.kwargs)


@pytest.fixture
def feed(http_server: LocalHTTPServer) -> LocalHTTPServer:
    http_server.json("/feed", RECORDS)
    return http_server


def test_a_task_exhausted_by_failures_fires_once(
    user: User, make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    http_server.json("/feed", {"error": "down"}, status=500)
    webhook_for(user)
    task = make_task(url=http_server.url("/feed"), max_attempt=2)

    run_once(task)
    assert types() == []  # one failure left
    run_once(task)

    [event] = events()
    assert (event.type, event.task_id, event.status) == ("task.exhausted", task.id, "pending")
    assert event.data["attempts"] == 2
    assert event.data["status"] == "failed"
    assert event.job_id == task_row(task.id).last_job_id


def test_a_task_exhausted_by_a_lost_job_fires_once(
    user: User, make_task: Callable[..., Task]
) -> None:
    webhook_for(user)
    task = make_task(max_attempt=1)
    job_id = run_task_now(task.id).id
    assert claim_job(job_id, 5.0) is not None
    set_job(job_id, lease_until=datetime.now(UTC) - timedelta(seconds=1))

    mark_lost_jobs(datetime.now(UTC))
    mark_lost_jobs(datetime.now(UTC))

    [event] = events()
    assert (event.type, event.job_id, event.data["status"]) == ("task.exhausted", job_id, "lost")


def test_the_first_success_after_failures_is_a_recovery_and_the_next_is_not(
    user: User, make_task: Callable[..., Task], http_server: LocalHTTPServer
) -> None:
    webhook_for(user)
    http_server.json("/feed", {"error": "down"}, status=503)
    task = make_task(url=http_server.url("/feed"), max_attempt=5)
    run_once(task)
    run_once(task)
    http_server.json("/feed", RECORDS)

    run_once(task)
    run_once(task)

    [event] = events()
    assert (event.type, event.data) == ("task.recovered", {"failed_attempts": 2})


def test_changed_records_fire_data_changed_with_counts_and_ids_but_a_first_run_does_not(
    user: User, make_task: Callable[..., Task], feed: LocalHTTPServer
) -> None:
    webhook_for(user)
    task = make_task(url=feed.url("/feed"))
    run_once(task)
    assert types() == []
    feed.json("/feed", [{"id": 1, "name": "ada"}, {"id": 2, "name": "hopper"}, {"id": 4}])

    run_once(task)
    run_once(task)  # the same records again: no change

    [event] = events()
    assert event.type == "data.changed"
    assert event.data == {
        "added": 1,
        "changed": 1,
        "removed": 1,
        "records": 3,
        "added_ids": ["4"],
        "changed_ids": ["2"],
        "removed_ids": ["3"],
        "ids_truncated": False,
    }


def test_the_ids_of_a_change_are_capped(
    app: Flask, user: User, make_task: Callable[..., Task], feed: LocalHTTPServer
) -> None:
    app.config["WEBHOOK_MAX_CHANGED_IDS"] = 2
    webhook_for(user)
    task = make_task(url=feed.url("/feed"))
    run_once(task)
    feed.json("/feed", [{"id": number} for number in range(10, 15)])

    run_once(task)

    [event] = events()
    assert (event.data["added"], event.data["removed"]) == (5, 3)
    assert (len(event.data["added_ids"]), len(event.data["removed_ids"])) == (2, 2)
    assert event.data["ids_truncated"] is True


def test_a_stale_task_fires_once_per_stale_period(
    user: User, make_task: Callable[..., Task], feed: LocalHTTPServer
) -> None:
    webhook_for(user)
    task = make_task(url=feed.url("/feed"), stale_after=60)
    assert task.stale_at is not None
    later = datetime.now(UTC) + timedelta(seconds=61)

    assert notifications.record_stale_tasks(later) == [task.id]
    assert notifications.record_stale_tasks(later + timedelta(seconds=120)) == []
    run_once(task)  # a success starts a new period
    assert notifications.record_stale_tasks(datetime.now(UTC) + timedelta(seconds=30)) == []
    assert notifications.record_stale_tasks(datetime.now(UTC) + timedelta(seconds=61)) == [task.id]

    assert types() == ["task.stale", "task.stale"]
    first, second = events()
    assert first.data == {"stale_after": 60, "last_success_at": None}
    assert second.data["last_success_at"] == task_row(task.id).last_success_at.isoformat()


def test_paused_tasks_never_go_stale(user: User, make_task: Callable[..., Task]) -> None:
    webhook_for(user)
    make_task(stale_after=1, enabled=False)
    assert notifications.record_stale_tasks(datetime.now(UTC) + timedelta(hours=1)) == []


def test_stale_tasks_are_counted_for_metrics(make_task: Callable[..., Task]) -> None:
    make_task(stale_after=60)
    make_task(stale_after=3600)
    make_task()
    assert notifications.count_stale_tasks(datetime.now(UTC) + timedelta(seconds=120)) == 1


def test_only_the_webhooks_that_want_an_event_get_it(
    user: User,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    http_server: LocalHTTPServer,
) -> None:
    http_server.json("/feed", {"error": "down"}, status=500)
    task = make_task(url=http_server.url("/feed"), max_attempt=1)
    other_task = make_task(url=http_server.url("/feed"))
    everything = webhook_for(user)
    for_this_task = webhook_for(user, task_ids=[task.id])
    webhook_for(user, task_ids=[other_task.id])
    webhook_for(user, events=["data.changed"])
    webhook_for(user, active=False)
    webhook_for(make_user("bob"))

    run_once(task)

    rows = events()
    assert sorted(row.webhook_id for row in rows) == [everything.id, for_this_task.id]
    assert len({row.event_id for row in rows}) == 1  # one event, one id


def test_no_webhook_no_event(make_task: Callable[..., Task], http_server: LocalHTTPServer) -> None:
    http_server.json("/feed", {"error": "down"}, status=500)
    run_once(make_task(url=http_server.url("/feed"), max_attempt=1))
    assert events() == []


def test_an_attempt_posts_the_event_signed_and_a_2xx_delivers_it(
    user: User, http_server: LocalHTTPServer
) -> None:
    http_server.route("/hook", lambda _request: Reply(204))
    webhook = webhook_for(user, url=http_server.url("/hook"))
    event = send_test_event(webhook.id, user.id)

    assert webhook_delivery.deliver(event.id, 1) == EventStatus.DELIVERED
    assert webhook_delivery.deliver(event.id, 1) is None  # a duplicate message does nothing

    [request] = http_server.requests_to("/hook")
    body = json.loads(request.body)
    assert (body["id"], body["type"], body["data"]) == (
        event.event_id,
        "ping",
        {"webhook_id": webhook.id},
    )
    assert request.headers["X-Challenge-Event-Id"] == event.event_id
    assert DOCUMENTED_VERIFY(webhook.secret, request.body, request.headers["X-Challenge-Signature"])
    assert not DOCUMENTED_VERIFY(
        "whsec_other", request.body, request.headers["X-Challenge-Signature"]
    )
    [attempt] = db.session.scalars(select(WebhookDelivery)).all()
    assert (attempt.attempt, attempt.status_code, attempt.succeeded) == (1, 204, True)


def test_a_failed_attempt_is_retried_with_a_growing_delay_then_given_up(
    app: Flask, user: User, http_server: LocalHTTPServer
) -> None:
    app.config.update(
        WEBHOOK_MAX_ATTEMPTS=3, WEBHOOK_RETRY_BASE_SECONDS=10, WEBHOOK_RETRY_MAX_SECONDS=15
    )
    http_server.route("/hook", answering(500))
    webhook = webhook_for(user, url=http_server.url("/hook"))
    event = send_test_event(webhook.id, user.id)

    delays = []
    for attempt in (1, 2):
        before = datetime.now(UTC)
        assert webhook_delivery.deliver(event.id, attempt) == EventStatus.PENDING
        [row] = events()
        delays.append((row.next_attempt_at - before).total_seconds())
    assert webhook_delivery.deliver(event.id, 3) == EventStatus.FAILED

    assert 10 <= delays[0] < 11
    assert 15 <= delays[1] < 16
    attempts = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [(a.attempt, a.status_code) for a in attempts] == [(1, 500), (2, 500), (3, 500)]
    assert attempts[0].error == "HTTP 500: only a 2xx status acknowledges an event."
    bodies = {request.body for request in http_server.requests_to("/hook")}
    assert len(bodies) == 1  # the same event, the same bytes, every time


def test_a_receiver_that_does_not_answer_in_time_is_a_failed_attempt(
    app: Flask, user: User, http_server: LocalHTTPServer
) -> None:
    app.config["WEBHOOK_TIMEOUT"] = 0.5
    http_server.route("/hook", lambda _request: Reply(200, delay=3))
    event = send_test_event(webhook_for(user, url=http_server.url("/hook")).id, user.id)

    assert webhook_delivery.deliver(event.id, 1) == EventStatus.PENDING

    [attempt] = db.session.scalars(select(WebhookDelivery)).all()
    assert (attempt.status_code, attempt.error) == (None, "No answer within 0.5 s.")


def test_a_webhook_on_a_private_address_is_refused_at_delivery_time_too(
    app: Flask, user: User, http_server: LocalHTTPServer
) -> None:
    webhook = webhook_for(user, url=http_server.url("/hook"))
    event = send_test_event(webhook.id, user.id)
    app.config["FETCH_ALLOW_PRIVATE"] = False

    webhook_delivery.deliver(event.id, 1)

    assert http_server.requests_to("/hook") == []
    [attempt] = db.session.scalars(select(WebhookDelivery)).all()
    assert attempt.error == "The host is a non-public address."


def test_the_tick_publishes_due_events_on_their_own_queue_never_more_than_the_cap(
    app: Flask, user: User
) -> None:
    app.config["WEBHOOK_MAX_IN_FLIGHT"] = 2
    webhook = webhook_for(user)
    for _ in range(3):
        send_test_event(webhook.id, user.id)
    now = datetime.now(UTC)

    first = webhook_delivery.publish_due_events(now)
    again = webhook_delivery.publish_due_events(now)

    assert (len(first), again) == (2, [])
    messages = queued_messages(get_redis(), "webhooks")
    assert sorted(message.args[0] for message in messages) == sorted(first)
    assert {message.task_name for message in messages} == {"webhooks.deliver"}
    assert queued_messages(get_redis()) == []  # nothing on the job queue
    # Once the leases run out (a lost message, a killed worker) they are published again.
    later = now + timedelta(hours=1)
    assert len(webhook_delivery.publish_due_events(later)) == 2


def test_finished_events_are_pruned_after_the_retention_with_their_attempts(
    user: User, http_server: LocalHTTPServer
) -> None:
    http_server.route("/hook", answering(200))
    webhook = webhook_for(user, url=http_server.url("/hook"))
    delivered = send_test_event(webhook.id, user.id)
    webhook_delivery.deliver(delivered.id, 1)
    pending = send_test_event(webhook.id, user.id)
    now = datetime.now(UTC)

    assert webhook_delivery.prune_finished_events(now) == 0
    assert webhook_delivery.prune_finished_events(now + timedelta(days=31)) == 1

    assert [event.id for event in events()] == [pending.id]
    assert db.session.scalars(select(WebhookDelivery)).all() == []
