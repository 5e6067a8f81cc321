"""The webhook endpoints: create (secret once), list, read, change, delete, attempts, ping."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import headers_for
from tests.support.http_server import LocalHTTPServer, Reply
from website.extensions import db
from website.models import Role, Task, User, WebhookEvent
from website.services import webhook_delivery


def new_webhook(**overrides: Any) -> dict[str, Any]:
    return {"url": "https://hooks.example.com/in", "events": ["task.exhausted"], **overrides}


def create(client: FlaskClient, headers: dict[str, str], **overrides: Any) -> dict[str, Any]:
    response = client.post("/webhooks", json=new_webhook(**overrides), headers=headers)
    assert response.status_code == 201, response.json
    body: dict[str, Any] = response.json
    return body


def test_creating_a_webhook_shows_its_secret_once(
    client: FlaskClient, auth_headers: dict[str, str], user: User
) -> None:
    response = client.post(
        "/webhooks",
        json=new_webhook(events=["task.stale", "data.changed"], description="ops"),
        headers=auth_headers,
    )

    assert response.status_code == 201
    created = response.json
    assert created["secret"].startswith("whsec_")
    assert response.headers["Location"].endswith(f"/webhooks/{created['id']}")
    assert (created["owner_id"], created["active"], created["task_ids"]) == (user.id, True, None)
    assert created["events"] == ["task.stale", "data.changed"]
    shown = client.get(f"/webhooks/{created['id']}", headers=auth_headers).json
    listed = client.get("/webhooks", headers=auth_headers).json
    assert "secret" not in shown
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]


def test_changing_a_webhook_keeps_its_secret_and_changes_only_what_is_sent(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    created = create(client, auth_headers)
    task = make_task()

    response = client.patch(
        f"/webhooks/{created['id']}",
        json={"active": False, "task_ids": [task.id], "events": ["task.recovered"]},
        headers=auth_headers,
    )

    assert response.status_code == 200
    changed = response.json
    assert (changed["active"], changed["task_ids"], changed["events"]) == (
        False,
        [task.id],
        ["task.recovered"],
    )
    assert changed["url"] == created["url"]


def test_deleting_a_webhook(client: FlaskClient, auth_headers: dict[str, str]) -> None:
    created = create(client, auth_headers)
    assert client.delete(f"/webhooks/{created['id']}", headers=auth_headers).status_code == 204
    assert client.get(f"/webhooks/{created['id']}", headers=auth_headers).status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/webhooks/{id}"),
        ("patch", "/webhooks/{id}"),
        ("delete", "/webhooks/{id}"),
        ("get", "/webhooks/{id}/deliveries"),
        ("post", "/webhooks/{id}/test"),
    ],
)
def test_another_users_webhook_is_not_found(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., User],
    method: str,
    path: str,
) -> None:
    theirs = create(client, headers_for(make_user("bob")))
    kwargs: dict[str, Any] = {"json": {"active": False}} if method == "patch" else {}

    response = getattr(client, method)(path.format(id=theirs["id"]), headers=auth_headers, **kwargs)

    assert response.status_code == 404
    assert response.json["message"] == "Webhook not found"
    assert client.get("/webhooks", headers=auth_headers).json == []


def test_an_admin_reaches_every_users_webhooks_with_all(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    theirs = create(client, headers_for(make_user("bob")))
    admin = headers_for(make_user("root", role=Role.ADMIN))
    assert client.get(f"/webhooks/{theirs['id']}?all=1", headers=admin).status_code == 200
    assert [item["id"] for item in client.get("/webhooks?all=1", headers=admin).json] == [
        theirs["id"]
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "https://user@example.com/"}, "url"),
        ({"events": []}, "events"),
        ({"events": ["task.exploded"]}, "events"),
        ({"events": ["ping"]}, "events"),
        ({"events": ["task.stale", "task.stale"]}, "events"),
        ({"task_ids": [0]}, "task_ids"),
        ({"task_ids": ["1"]}, "task_ids"),
        ({"task_ids": []}, "task_ids"),
        ({"active": "maybe"}, "active"),
        ({"active": 0}, "active"),
        ({"secret": "mine"}, "secret"),
        ({"description": "x" * 201}, "description"),
    ],
)
def test_invalid_webhooks_are_clear_422s(
    client: FlaskClient, auth_headers: dict[str, str], body: dict[str, Any], field: str
) -> None:
    response = client.post("/webhooks", json=new_webhook(**body), headers=auth_headers)

    assert response.status_code == 422
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert field in response.json["errors"]


@pytest.mark.parametrize("missing", ["url", "events"])
def test_url_and_events_are_required(
    client: FlaskClient, auth_headers: dict[str, str], missing: str
) -> None:
    body = new_webhook()
    del body[missing]
    response = client.post("/webhooks", json=body, headers=auth_headers)
    assert response.status_code == 422
    assert missing in response.json["errors"]


def test_task_ids_must_name_your_own_tasks(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    make_user: Callable[..., User],
) -> None:
    theirs = make_task(owner=make_user("bob"))
    response = client.post(
        "/webhooks", json=new_webhook(task_ids=[theirs.id]), headers=auth_headers
    )
    assert response.status_code == 422
    assert response.json["errors"] == {"task_ids": [f"No such task among yours: {theirs.id}."]}


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.0.0.7/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/",
    ],
)
def test_a_private_address_is_refused_in_production_settings(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str], url: str
) -> None:
    app.config.update(FETCH_ALLOW_PRIVATE=False, FETCH_ALLOWED_HOSTS=[])
    created = create(client, auth_headers)

    refused = client.post("/webhooks", json=new_webhook(url=url), headers=auth_headers)
    changed = client.patch(f"/webhooks/{created['id']}", json={"url": url}, headers=auth_headers)

    for response in (refused, changed):
        assert response.status_code == 422
        assert response.json["errors"] == {"url": ["The host is a non-public address."]}


def test_the_webhook_limit_per_user(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    app.config["MAX_WEBHOOKS_PER_USER"] = 1
    create(client, auth_headers)
    response = client.post("/webhooks", json=new_webhook(), headers=auth_headers)
    assert response.status_code == 422
    assert "webhooks" in response.json["errors"]


def test_a_ping_is_delivered_and_its_attempt_listed(
    client: FlaskClient, auth_headers: dict[str, str], http_server: LocalHTTPServer
) -> None:
    http_server.route("/hook", lambda _request: Reply(200))
    created = create(client, auth_headers, url=http_server.url("/hook"))

    response = client.post(f"/webhooks/{created['id']}/test", headers=auth_headers)
    assert response.status_code == 202
    ping = response.json
    assert (ping["type"], ping["status"]) == ("ping", "pending")
    row = db.session.query(WebhookEvent).one()
    webhook_delivery.deliver(row.id, 1)  # what the worker does with the tick's message

    attempts = client.get(f"/webhooks/{created['id']}/deliveries", headers=auth_headers)
    assert attempts.status_code == 200
    [attempt] = attempts.json
    assert attempt["event_id"] == ping["event_id"]
    assert (attempt["event_type"], attempt["event_status"], attempt["attempt"]) == (
        "ping",
        "delivered",
        1,
    )
    assert (attempt["status_code"], attempt["succeeded"], attempt["error"]) == (200, True, None)
    assert attempt["duration"] >= 0


def test_tasks_show_stale_after_and_their_last_success(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    body = {"name": "feed", "url": "https://example.com/f", "task_interval": 60, "stale_after": 600}
    created = client.post("/tasks", json=body, headers=auth_headers).json
    assert (created["stale_after"], created["last_success_at"]) == (600, None)

    changed = client.patch(
        f"/tasks/{created['id']}", json={"stale_after": None}, headers=auth_headers
    )
    assert changed.json["stale_after"] is None
    refused = client.patch(f"/tasks/{created['id']}", json={"stale_after": 0}, headers=auth_headers)
    assert refused.status_code == 422
    assert "stale_after" in refused.json["errors"]
