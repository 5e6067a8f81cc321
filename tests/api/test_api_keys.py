"""API keys: created once, listed without the secret, usable as a bearer, deleted at once."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select, update

from tests.conftest import DEFAULT_PASSWORD, headers_for
from website.extensions import db
from website.models import ApiKey, Role, Task, User


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def create_key(
    client: FlaskClient, headers: dict[str, str], name: str = "cron", **values: Any
) -> dict[str, Any]:
    response = client.post("/users/me/api-keys", json={"name": name, **values}, headers=headers)
    assert response.status_code == 201, response.get_json()
    created: dict[str, Any] = response.get_json()
    return created


def test_a_new_key_is_shown_once_and_stored_only_as_its_hash(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    created = create_key(client, auth_headers, "nightly report")

    assert created["key"].startswith("chk_")
    assert created["key"].startswith(created["prefix"])
    assert created["name"] == "nightly report"
    assert created["expires_at"] is None
    stored = db.session.scalars(select(ApiKey)).one()
    assert stored.key_hash == hashlib.sha256(created["key"].encode()).hexdigest()
    assert created["key"] not in {stored.name, stored.prefix, stored.key_hash}


def test_a_key_works_as_a_bearer_wherever_an_access_token_does(
    client: FlaskClient,
    user: User,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
) -> None:
    task = make_task(name="mine")
    key = create_key(client, auth_headers)["key"]

    assert client.get("/users/me", headers=bearer(key)).get_json()["username"] == "alice"
    listed = client.get("/tasks", headers=bearer(key)).get_json()
    assert [item["id"] for item in listed] == [task.id]
    created = client.post(
        "/tasks",
        json={"name": "by key", "url": "http://127.0.0.1:9/feed", "task_interval": 60},
        headers=bearer(key),
    )
    assert created.status_code == 201
    assert created.get_json()["owner_id"] == user.id


def test_the_listing_shows_your_keys_without_their_secrets(
    client: FlaskClient, make_user: Callable[..., User], user: User, auth_headers: dict[str, str]
) -> None:
    first = create_key(client, auth_headers, "first")
    expires = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
    second = create_key(client, auth_headers, "second", expires_at=expires.isoformat())
    create_key(client, headers_for(make_user("bob")), "bob's")

    listed = client.get("/users/me/api-keys", headers=auth_headers).get_json()

    assert [item["name"] for item in listed] == ["first", "second"]
    assert all(set(item) == {"id", "name", "prefix", "created_at", "expires_at"} for item in listed)
    assert datetime.fromisoformat(listed[1]["expires_at"]) == expires
    text = str(listed)
    assert first["key"] not in text
    assert second["key"] not in text


def test_a_deleted_key_stops_working_at_once(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    created = create_key(client, auth_headers)
    assert client.get("/tasks", headers=bearer(created["key"])).status_code == 200

    deleted = client.delete(f"/users/me/api-keys/{created['id']}", headers=auth_headers)

    assert deleted.status_code == 204
    refused = client.get("/tasks", headers=bearer(created["key"]))
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    assert refused.get_json()["message"].startswith("Invalid API key")
    assert client.get("/users/me/api-keys", headers=auth_headers).get_json() == []


def test_another_users_key_id_is_a_404_and_their_key_keeps_working(
    client: FlaskClient, make_user: Callable[..., User], user: User, auth_headers: dict[str, str]
) -> None:
    bob_headers = headers_for(make_user("bob"))
    bobs = create_key(client, bob_headers, "bob's")

    response = client.delete(f"/users/me/api-keys/{bobs['id']}", headers=auth_headers)

    assert response.status_code == 404
    assert client.get("/users/me", headers=bearer(bobs["key"])).get_json()["username"] == "bob"


def test_a_deactivated_users_keys_stop_working_and_work_again_when_reactivated(
    client: FlaskClient, make_user: Callable[..., User], user: User, auth_headers: dict[str, str]
) -> None:
    key = create_key(client, auth_headers)["key"]
    admin_headers = headers_for(make_user("root", role=Role.ADMIN))

    client.patch(f"/users/{user.id}", json={"is_active": False}, headers=admin_headers)
    assert client.get("/users/me", headers=bearer(key)).status_code == 401

    client.patch(f"/users/{user.id}", json={"is_active": True}, headers=admin_headers)
    assert client.get("/users/me", headers=bearer(key)).status_code == 200


def test_an_expired_key_is_refused(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    created = create_key(
        client, auth_headers, expires_at=(datetime.now(UTC) + timedelta(hours=1)).isoformat()
    )
    db.session.execute(update(ApiKey).values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    db.session.commit()

    assert client.get("/users/me", headers=bearer(created["key"])).status_code == 401


def test_an_expiry_in_the_past_is_refused(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    response = client.post(
        "/users/me/api-keys",
        json={"name": "late", "expires_at": "2020-01-01T00:00:00Z"},
        headers=auth_headers,
    )
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["expires_at"]


@pytest.mark.parametrize("key", ["chk_", "chk_not-a-key-anyone-has", "chk_" + "x" * 5000])
def test_an_unknown_key_is_a_401(client: FlaskClient, user: User, key: str) -> None:
    assert client.get("/tasks", headers=bearer(key)).status_code == 401


def test_an_admins_key_reaches_the_admin_endpoints_and_a_users_key_does_not(
    client: FlaskClient, make_user: Callable[..., User], user: User, auth_headers: dict[str, str]
) -> None:
    admin_key = create_key(client, headers_for(make_user("root", role=Role.ADMIN)))["key"]
    user_key = create_key(client, auth_headers)["key"]

    assert client.get("/users", headers=bearer(admin_key)).status_code == 200
    assert client.get("/users", headers=bearer(user_key)).status_code == 403


def test_a_password_change_keeps_api_keys_working(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    key = create_key(client, auth_headers)["key"]

    changed = client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "another passphrase"},
        headers=auth_headers,
    )

    assert changed.status_code == 200
    assert client.get("/users/me", headers=auth_headers).status_code == 401
    assert client.get("/users/me", headers=bearer(key)).status_code == 200


def test_deleting_a_user_deletes_their_keys(
    client: FlaskClient, make_user: Callable[..., User], user: User, auth_headers: dict[str, str]
) -> None:
    key = create_key(client, auth_headers)["key"]
    admin_headers = headers_for(make_user("root", role=Role.ADMIN))

    assert client.delete(f"/users/{user.id}", headers=admin_headers).status_code == 204

    assert db.session.scalars(select(ApiKey)).all() == []
    assert client.get("/users/me", headers=bearer(key)).status_code == 401


def test_a_key_cannot_refresh_or_log_out(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    key = create_key(client, auth_headers)["key"]

    assert client.post("/refresh", headers=bearer(key)).status_code == 401
    assert client.post("/logout", headers=bearer(key)).status_code == 401
    assert client.get("/users/me", headers=bearer(key)).status_code == 200
