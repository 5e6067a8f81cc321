"""Registering, logging in, refreshing, logging out, and the rate limits on credentials."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import redis
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import decode_token

from tests.conftest import DEFAULT_PASSWORD
from tests.support.apps import another_app, bearer
from website.extensions import db
from website.models import Role, User
from website.services.tokens import BLOCKLIST_PREFIX
from website.services.users import get_user_by_username

SMALL_LIMIT = 3  # attempts per minute the rate-limit tests allow
PASSWORD_HASH_MARKER = "$argon2"


def log_in(client: FlaskClient, username: str, password: str = DEFAULT_PASSWORD) -> Any:
    return client.post("/login", json={"username": username, "password": password})


@pytest.fixture
def small_auth_limit(app: Flask) -> int:
    app.config["RATELIMIT_AUTH"] = f"{SMALL_LIMIT} per minute"
    return SMALL_LIMIT


def test_register_creates_a_user_with_the_user_role(client: FlaskClient) -> None:
    response = client.post("/register", json={"username": "alice", "password": DEFAULT_PASSWORD})
    assert response.status_code == 201
    assert response.json["username"] == "alice"
    assert response.json["role"] == "user"
    assert response.json["is_active"] is True
    assert set(response.json) == {"id", "username", "role", "is_active", "created_at"}


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"role": "admin"}, id="role"),
        pytest.param({"is_active": True}, id="is_active"),
        pytest.param({"id": 1}, id="id"),
        pytest.param({"password_hash": "$argon2id$x"}, id="password_hash"),
    ],
)
def test_register_rejects_mass_assignment_with_422(
    client: FlaskClient, extra: dict[str, Any]
) -> None:
    body = {"username": "mallory", "password": DEFAULT_PASSWORD, **extra}
    response = client.post("/register", json=body)
    assert response.status_code == 422
    assert set(extra) <= set(response.json["errors"])
    assert get_user_by_username("mallory") is None


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 65, "has space", "ünïcödé", "semi;colon", "slash/name", "", "<script>"],
)
def test_register_rejects_a_bad_username_with_422(client: FlaskClient, username: str) -> None:
    response = client.post("/register", json={"username": username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 422
    assert "username" in response.json["errors"]


@pytest.mark.parametrize("username", ["abc", "a" * 64, "Jane.Doe_99-x"])
def test_register_accepts_usernames_at_the_edges(client: FlaskClient, username: str) -> None:
    response = client.post("/register", json={"username": username, "password": DEFAULT_PASSWORD})
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("password", "status"),
    [("x" * 7, 422), ("x" * 8, 201), ("x" * 128, 201), ("x" * 129, 422)],
)
def test_register_enforces_password_length_8_to_128(
    client: FlaskClient, password: str, status: int
) -> None:
    response = client.post("/register", json={"username": "alice", "password": password})
    assert response.status_code == status


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"username": "alice"}, id="no-password"),
        pytest.param({"password": DEFAULT_PASSWORD}, id="no-username"),
        pytest.param({"username": 42, "password": DEFAULT_PASSWORD}, id="number-username"),
        pytest.param({"username": "alice", "password": None}, id="null-password"),
        pytest.param([], id="array"),
        pytest.param("alice", id="string"),
    ],
)
def test_register_and_login_answer_bad_bodies_with_422(client: FlaskClient, body: Any) -> None:
    for path in ("/register", "/login"):
        response = client.post(path, json=body)
        assert response.status_code == 422, path
        assert set(response.json) == {"code", "status", "message", "errors"}


def test_register_refuses_a_taken_username_with_409(client: FlaskClient, user: User) -> None:
    response = client.post(
        "/register", json={"username": user.username, "password": "another password"}
    )
    assert response.status_code == 409
    assert response.json["code"] == 409


@pytest.mark.parametrize("variant", ["ALICE", "Alice", "aLiCe"])
def test_register_refuses_a_username_differing_only_in_case_with_409(
    client: FlaskClient, user: User, variant: str
) -> None:
    response = client.post("/register", json={"username": variant, "password": DEFAULT_PASSWORD})
    assert response.status_code == 409
    assert set(response.json) == {"code", "status", "message", "errors"}


@pytest.mark.parametrize("typed", ["alice", "ALICE", "Alice"])
def test_login_finds_the_account_whatever_the_case_typed(
    client: FlaskClient, user: User, typed: str
) -> None:
    response = log_in(client, typed)
    assert response.status_code == 200
    me = client.get("/users/me", headers=bearer(response.json["access_token"]))
    assert me.json["id"] == user.id
    assert me.json["username"] == "alice"  # shown as registered


def test_login_returns_tokens_that_open_users_me(client: FlaskClient, user: User) -> None:
    response = log_in(client, "alice")
    assert response.status_code == 200
    assert set(response.json) == {"access_token", "refresh_token"}
    me = client.get("/users/me", headers=bearer(response.json["access_token"]))
    assert me.status_code == 200
    assert me.json["id"] == user.id


def test_access_token_carries_the_role_claim(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    make_user("root", role=Role.ADMIN)
    token = log_in(client, "root").json["access_token"]
    assert decode_token(token)["role"] == "admin"


def test_unknown_user_and_wrong_password_get_the_same_401(client: FlaskClient, user: User) -> None:
    unknown = log_in(client, "nobody")
    wrong = log_in(client, "alice", "wrong password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json == wrong.json


def test_a_deactivated_user_cannot_log_in(client: FlaskClient, user: User) -> None:
    user.is_active = False
    db.session.commit()
    response = log_in(client, "alice")
    assert response.status_code == 401
    assert response.json == log_in(client, "nobody").json


def test_login_upgrades_a_hash_made_with_weaker_parameters(client: FlaskClient, user: User) -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    user.password_hash = weak.hash(DEFAULT_PASSWORD)
    db.session.commit()
    assert log_in(client, "alice").status_code == 200
    db.session.refresh(user)
    assert "m=19456,t=2" in user.password_hash


def test_refresh_returns_a_new_working_access_token(client: FlaskClient, user: User) -> None:
    refresh_token = log_in(client, "alice").json["refresh_token"]
    response = client.post("/refresh", headers=bearer(refresh_token))
    assert response.status_code == 200
    assert set(response.json) == {"access_token"}
    assert client.get("/users/me", headers=bearer(response.json["access_token"])).status_code == 200


def test_refresh_is_refused_for_a_deactivated_user(client: FlaskClient, user: User) -> None:
    refresh_token = log_in(client, "alice").json["refresh_token"]
    user.is_active = False
    db.session.commit()
    assert client.post("/refresh", headers=bearer(refresh_token)).status_code == 401


def test_logout_revokes_only_the_presented_access_token(client: FlaskClient, user: User) -> None:
    tokens = log_in(client, "alice").json
    assert client.post("/logout", headers=bearer(tokens["access_token"])).status_code == 204
    assert client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.post("/refresh", headers=bearer(tokens["refresh_token"])).status_code == 200


def test_logout_with_a_refresh_token_revokes_it(client: FlaskClient, user: User) -> None:
    tokens = log_in(client, "alice").json
    assert client.post("/logout", headers=bearer(tokens["refresh_token"])).status_code == 204
    assert client.post("/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200


@pytest.mark.parametrize("presented", ["access_token", "refresh_token"])
def test_logout_of_all_sessions_ends_every_token_of_the_account(
    client: FlaskClient, make_user: Callable[..., User], presented: str
) -> None:
    make_user("alice")
    make_user("bob")
    laptop, phone = log_in(client, "alice").json, log_in(client, "alice").json
    bobs = log_in(client, "bob").json

    response = client.post("/logout", json={"all": True}, headers=bearer(laptop[presented]))

    assert response.status_code == 204
    for tokens in (laptop, phone):
        assert client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
        assert client.post("/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
    assert client.get("/users/me", headers=bearer(bobs["access_token"])).status_code == 200
    again = log_in(client, "alice")
    assert again.status_code == 200
    assert client.get("/users/me", headers=bearer(again.json["access_token"])).status_code == 200


@pytest.mark.parametrize("body", [{"all": False}, {}])
def test_logout_without_all_ends_only_the_presented_token(
    client: FlaskClient, user: User, body: dict[str, Any]
) -> None:
    first, second = log_in(client, "alice").json, log_in(client, "alice").json
    response = client.post("/logout", json=body, headers=bearer(first["access_token"]))
    assert response.status_code == 204
    assert client.get("/users/me", headers=bearer(first["access_token"])).status_code == 401
    assert client.post("/refresh", headers=bearer(first["refresh_token"])).status_code == 200
    assert client.get("/users/me", headers=bearer(second["access_token"])).status_code == 200


@pytest.mark.parametrize(
    "body",
    [{"all": "yes please"}, {"all": 1}, {"all": "true"}, {"all": True, "user_id": 1}, [True]],
)
def test_logout_refuses_a_bad_body_with_422_and_revokes_nothing(
    client: FlaskClient, user: User, body: Any
) -> None:
    tokens = log_in(client, "alice").json
    response = client.post("/logout", json=body, headers=bearer(tokens["access_token"]))
    assert response.status_code == 422
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200


@pytest.mark.parametrize(
    ("token_name", "lifetime"), [("access_token", 15 * 60), ("refresh_token", 30 * 24 * 3600)]
)
def test_the_blocklist_entry_expires_with_the_token(
    client: FlaskClient,
    redis_client: redis.Redis,
    user: User,
    token_name: str,
    lifetime: int,
) -> None:
    token = log_in(client, "alice").json[token_name]
    client.post("/logout", headers=bearer(token))
    ttl = redis_client.ttl(BLOCKLIST_PREFIX + decode_token(token, allow_expired=True)["jti"])
    assert lifetime - 60 < ttl <= lifetime


def test_users_me_needs_a_token(client: FlaskClient) -> None:
    assert client.get("/users/me").status_code == 401


def test_repeated_failed_logins_are_answered_429_with_retry_after(
    client: FlaskClient, user: User, small_auth_limit: int
) -> None:
    for _ in range(small_auth_limit):
        assert log_in(client, "alice", "wrong password").status_code == 401
    response = log_in(client, "alice")  # even the right password waits now
    assert response.status_code == 429
    assert set(response.json) == {"code", "status", "message", "errors"}
    assert 0 <= int(response.headers["Retry-After"]) <= 60


def test_login_is_limited_per_username_across_addresses(
    client: FlaskClient, user: User, small_auth_limit: int
) -> None:
    for attempt in range(small_auth_limit):
        address = {"REMOTE_ADDR": f"10.0.0.{attempt + 1}"}
        log_in_response = client.post(
            "/login",
            json={"username": "alice", "password": "wrong password"},
            environ_base=address,
        )
        assert log_in_response.status_code == 401
    response = client.post(
        "/login",
        json={"username": "alice", "password": "wrong password"},
        environ_base={"REMOTE_ADDR": "10.0.0.99"},
    )
    assert response.status_code == 429


def log_in_from(
    client: FlaskClient, address: str, username: str, password: str = DEFAULT_PASSWORD
) -> Any:
    return client.post(
        "/login",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failed_logins_by_others_never_lock_the_owner_out(
    client: FlaskClient, user: User, small_auth_limit: int
) -> None:
    # Someone guesses from many addresses until alice's username is over its limit of failures.
    guesses = [
        log_in_from(client, f"10.0.0.{attempt + 1}", "alice", "wrong password")
        for attempt in range(small_auth_limit + 1)
    ]
    assert [guess.status_code for guess in guesses] == [401] * small_auth_limit + [429]
    assert 0 <= int(guesses[-1].headers["Retry-After"]) <= 60

    response = log_in_from(client, "10.0.1.1", "alice")

    assert response.status_code == 200
    assert client.get("/users/me", headers=bearer(response.json["access_token"])).status_code == 200


def test_successful_logins_do_not_count_against_the_username(
    client: FlaskClient, user: User, small_auth_limit: int
) -> None:
    statuses = [
        log_in_from(client, f"10.0.2.{attempt + 1}", "alice").status_code
        for attempt in range(small_auth_limit + 2)
    ]
    assert statuses == [200] * (small_auth_limit + 2)


def test_login_is_limited_per_address_across_usernames(
    client: FlaskClient, small_auth_limit: int
) -> None:
    for attempt in range(small_auth_limit):
        assert log_in(client, f"user{attempt}", "wrong password").status_code == 401
    assert log_in(client, "someone-else", "wrong password").status_code == 429
    other_address = client.post(
        "/login",
        json={"username": "someone-else", "password": "wrong password"},
        environ_base={"REMOTE_ADDR": "10.0.0.7"},
    )
    assert other_address.status_code == 401


def test_register_is_rate_limited_too(client: FlaskClient, small_auth_limit: int) -> None:
    for attempt in range(small_auth_limit):
        body = {"username": f"user{attempt}", "password": DEFAULT_PASSWORD}
        assert client.post("/register", json=body).status_code == 201
    response = client.post("/register", json={"username": "one-more", "password": DEFAULT_PASSWORD})
    assert response.status_code == 429
    assert "Retry-After" in response.headers
    assert get_user_by_username("one-more") is None


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        pytest.param("{not json", "application/json", id="broken-json"),
        pytest.param("username=alice", "application/x-www-form-urlencoded", id="form"),
        pytest.param('{"username": ["a"]}', "application/json", id="username-list"),
        pytest.param('{"username": "' + "x" * 5000 + '"}', "application/json", id="huge-username"),
    ],
)
def test_malformed_login_bodies_are_counted_and_never_a_500(
    client: FlaskClient, small_auth_limit: int, data: str, content_type: str
) -> None:
    statuses = [
        client.post("/login", data=data, content_type=content_type).status_code
        for _ in range(small_auth_limit + 1)
    ]
    assert all(400 <= status < 500 for status in statuses)
    assert statuses[-1] == 429


def test_rate_limits_can_be_switched_off(app: Flask, user: User) -> None:
    with another_app(RATELIMIT_ENABLED=False, RATELIMIT_AUTH="1/minute") as unlimited:
        client = unlimited.test_client()
        statuses = [log_in(client, "alice", "wrong password").status_code for _ in range(3)]
    assert statuses == [401, 401, 401]


def test_no_response_contains_a_password_hash(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    admin = make_user("root", role=Role.ADMIN)
    admin_headers = bearer(log_in(client, "root").json["access_token"])
    registered = client.post("/register", json={"username": "bob", "password": DEFAULT_PASSWORD})
    bob_id = registered.json["id"]
    responses = [
        registered,
        log_in(client, "bob"),
        client.get("/users/me", headers=admin_headers),
        client.get("/users", headers=admin_headers),
        client.get(f"/users/{bob_id}", headers=admin_headers),
        client.patch(f"/users/{bob_id}", json={"role": "user"}, headers=admin_headers),
        client.patch(f"/users/{bob_id}", json={"password_hash": "x"}, headers=admin_headers),
        client.get(f"/users/{admin.id + 1000}", headers=admin_headers),
        client.get("/openapi.json"),
    ]
    for response in responses:
        assert response.status_code < 500
        assert PASSWORD_HASH_MARKER not in response.get_data(as_text=True)


PUBLIC_OPERATIONS = {
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("post", "/register"),
    ("post", "/login"),
    ("post", "/token"),
}
SCRAPE_OPERATIONS = {("get", "/metrics")}  # Prometheus scrapes without a token


def test_openapi_declares_bearer_auth_and_marks_every_protected_operation(
    client: FlaskClient,
) -> None:
    spec = client.get("/openapi.json").json
    bearer = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    operations = {
        (method, path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }
    assert set(operations) >= PUBLIC_OPERATIONS
    for key, operation in operations.items():
        protected = [{"bearerAuth": []}, {"passwordLogin": []}]  # either one is enough
        expected = [] if key in PUBLIC_OPERATIONS | SCRAPE_OPERATIONS else protected
        assert operation.get("security") == expected, key


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"username": "alice", "password": ' + "9" * 5000 + "}", "application/json", 400),
        ('{"username": ' + "[" * 5000 + "]" * 5000 + "}", "application/json", 400),
        ("username=alice&password=secret-password", "text/plain", 415),
    ],
)
def test_register_refuses_unreadable_bodies_with_a_4xx(
    client: FlaskClient, body: str, content_type: str, status: int
) -> None:
    response = client.post("/register", data=body, content_type=content_type)
    assert response.status_code == status
    assert set(response.json) == {"code", "status", "message", "errors"}
