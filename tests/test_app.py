"""The app factory, probes and the demo feed."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from website.services.demo_feed import DEMO_FEEDS


def test_healthz_answers_ok(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok"}


def test_readyz_reports_ready_when_database_and_redis_answer(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready"}


@pytest.mark.parametrize("feed", sorted(DEMO_FEEDS))
def test_demo_feed_serves_a_deterministic_array_of_attendees(
    client: FlaskClient, feed: str
) -> None:
    first, second = client.get(f"/demo/events/{feed}"), client.get(f"/demo/events/{feed}")
    assert first.status_code == 200
    assert first.json == second.json
    assert len(first.json) == DEMO_FEEDS[feed]
    assert set(first.json[0]) == {"id", "name_first", "name_last", "description", "title"}
    assert len({record["id"] for record in first.json}) == DEMO_FEEDS[feed]


def test_demo_feed_answers_304_to_a_matching_etag(client: FlaskClient) -> None:
    etag = client.get("/demo/events/salesmeeting2020.json").headers["ETag"]
    response = client.get("/demo/events/salesmeeting2020.json", headers={"If-None-Match": etag})
    assert response.status_code == 304


def test_unknown_route_is_a_json_404(client: FlaskClient) -> None:
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert set(response.json) == {"code", "status", "message", "errors"}


def test_login_answers_503_not_500_when_redis_is_unreachable(
    client: FlaskClient, app: Flask
) -> None:
    from website.extensions import limiter

    app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:1/0"
    limiter.init_app(app)
    response = client.post("/login", json={"username": "alice", "password": "whatever-123"})
    assert response.status_code == 503
    assert set(response.json) == {"code", "status", "message", "errors"}
