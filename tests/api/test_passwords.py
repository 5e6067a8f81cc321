"""Changing passwords: your own (with the current one) and an admin's reset; sessions end."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.conftest import DEFAULT_PASSWORD, headers_for
from website.models import Role, User

NEW_PASSWORD = "a brand new passphrase"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_in(client: FlaskClient, username: str, password: str) -> dict[str, str]:
    response = client.post("/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.get_json()
    tokens: dict[str, str] = response.get_json()
    return tokens


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user("root", role=Role.ADMIN)


def test_changing_your_password_ends_your_other_sessions_and_answers_new_tokens(
    client: FlaskClient, user: User
) -> None:
    phone = log_in(client, "alice", DEFAULT_PASSWORD)
    laptop = log_in(client, "alice", DEFAULT_PASSWORD)

    response = client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(laptop["access_token"]),
    )

    assert response.status_code == 200
    fresh = response.get_json()
    assert client.get("/users/me", headers=bearer(fresh["access_token"])).status_code == 200
    assert client.post("/refresh", headers=bearer(fresh["refresh_token"])).status_code == 200
    for stale in (phone["access_token"], laptop["access_token"]):
        assert client.get("/users/me", headers=bearer(stale)).status_code == 401
    assert client.post("/refresh", headers=bearer(phone["refresh_token"])).status_code == 401
    # The new password logs in; the old one no longer does.
    log_in(client, "alice", NEW_PASSWORD)
    old = client.post("/login", json={"username": "alice", "password": DEFAULT_PASSWORD})
    assert old.status_code == 401


def test_a_wrong_current_password_is_a_422_naming_it_and_changes_nothing(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    response = client.post(
        "/users/me/password",
        json={"current_password": "not the password", "new_password": NEW_PASSWORD},
        headers=auth_headers,
    )

    assert response.status_code == 422
    body = response.get_json()
    assert body["message"] == "The current password is wrong"
    assert list(body["errors"]) == ["current_password"]
    assert client.get("/users/me", headers=auth_headers).status_code == 200
    log_in(client, "alice", DEFAULT_PASSWORD)


def test_a_too_short_new_password_is_refused(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    response = client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": "short"},
        headers=auth_headers,
    )

    assert response.status_code == 422
    assert "new_password" in response.get_json()["errors"]


def test_changing_your_password_needs_a_token(client: FlaskClient, user: User) -> None:
    response = client.post(
        "/users/me/password",
        json={"current_password": DEFAULT_PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert response.status_code == 401


def test_an_admin_resets_a_password_and_the_users_sessions_end(
    client: FlaskClient, user: User, admin: User
) -> None:
    session = log_in(client, "alice", DEFAULT_PASSWORD)

    response = client.post(
        f"/users/{user.id}/password", json={"password": NEW_PASSWORD}, headers=headers_for(admin)
    )

    assert response.status_code == 204
    assert client.get("/users/me", headers=bearer(session["access_token"])).status_code == 401
    log_in(client, "alice", NEW_PASSWORD)


@pytest.mark.parametrize("target", ["self", "other", "missing"])
def test_a_non_admin_cannot_reset_any_password(
    client: FlaskClient, make_user: Callable[..., User], user: User, target: str
) -> None:
    other = make_user("bob")
    user_id = {"self": user.id, "other": other.id, "missing": other.id + 100}[target]

    response = client.post(
        f"/users/{user_id}/password", json={"password": NEW_PASSWORD}, headers=headers_for(user)
    )

    assert response.status_code == 403
    log_in(client, "bob", DEFAULT_PASSWORD)


def test_an_admin_reset_of_a_missing_user_is_a_404(client: FlaskClient, admin: User) -> None:
    response = client.post(
        f"/users/{admin.id + 100}/password",
        json={"password": NEW_PASSWORD},
        headers=headers_for(admin),
    )
    assert response.status_code == 404
