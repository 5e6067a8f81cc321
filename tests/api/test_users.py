"""The users endpoints: /users/me for everyone, the rest for admins only."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.conftest import DEFAULT_PASSWORD, headers_for
from tests.support.apps import bearer
from website.extensions import db
from website.models import Role, Task, User
from website.services.passwords import hash_password


@pytest.fixture
def admin(make_user: Callable[..., User]) -> User:
    return make_user("root", role=Role.ADMIN)


@pytest.fixture
def admin_headers(admin: User) -> dict[str, str]:
    return headers_for(admin)


def task_count(owner: User) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Task).where(Task.owner_id == owner.id)
    )


def test_users_me_shows_the_caller(
    client: FlaskClient, user: User, auth_headers: dict[str, str]
) -> None:
    response = client.get("/users/me", headers=auth_headers)
    assert response.status_code == 200
    assert response.json["username"] == "alice"
    assert response.json["role"] == "user"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/users", None),
        ("get", "/users/{id}", None),
        ("patch", "/users/{id}", {"role": "admin"}),
        ("delete", "/users/{id}", None),
    ],
)
def test_admin_routes_refuse_a_user_with_403(
    client: FlaskClient, user: User, auth_headers: dict[str, str], method: str, path: str, body: Any
) -> None:
    response = getattr(client, method)(path.format(id=user.id), json=body, headers=auth_headers)
    assert response.status_code == 403
    db.session.refresh(user)
    assert user.role == "user"


@pytest.mark.parametrize(("method", "path"), [("get", "/users"), ("delete", "/users/1")])
def test_admin_routes_refuse_an_anonymous_caller_with_401(
    client: FlaskClient, method: str, path: str
) -> None:
    assert getattr(client, method)(path).status_code == 401


def test_a_demoted_admins_old_token_is_refused_because_the_database_is_rechecked(
    client: FlaskClient, admin: User, admin_headers: dict[str, str], make_user: Callable[..., User]
) -> None:
    make_user("root2", role=Role.ADMIN)
    admin.role = Role.USER.value
    db.session.commit()
    assert client.get("/users", headers=admin_headers).status_code == 403


def test_a_promoted_user_needs_a_new_token_carrying_the_admin_claim(
    client: FlaskClient, user: User, auth_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    response = client.patch(f"/users/{user.id}", json={"role": "admin"}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json["role"] == "admin"
    assert client.get("/users", headers=auth_headers).status_code == 403
    assert client.get("/users", headers=headers_for(user)).status_code == 200


def test_admin_lists_every_user_a_page_at_a_time(
    client: FlaskClient, admin_headers: dict[str, str], make_user: Callable[..., User]
) -> None:
    for name in ("bob", "carol", "dave"):
        make_user(name)
    first = client.get("/users?page=1&page_size=2", headers=admin_headers)
    second = client.get("/users?page=2&page_size=2", headers=admin_headers)
    assert first.status_code == second.status_code == 200
    assert [u["username"] for u in first.json + second.json] == ["root", "bob", "carol", "dave"]
    assert json.loads(first.headers["X-Pagination"])["total"] == 4


def test_admin_reads_a_user(client: FlaskClient, user: User, admin_headers: dict[str, str]) -> None:
    response = client.get(f"/users/{user.id}", headers=admin_headers)
    assert response.status_code == 200
    assert response.json["username"] == "alice"


@pytest.mark.parametrize("method", ["get", "patch", "delete"])
def test_an_unknown_user_is_a_404(
    client: FlaskClient, admin_headers: dict[str, str], method: str
) -> None:
    response = getattr(client, method)(
        "/users/999999", json={"is_active": False}, headers=admin_headers
    )
    assert response.status_code == 404


def test_a_deactivated_users_tokens_stop_working_and_come_back_on_reactivation(
    client: FlaskClient, user: User, auth_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    response = client.patch(f"/users/{user.id}", json={"is_active": False}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json["is_active"] is False
    assert client.get("/users/me", headers=auth_headers).status_code == 401
    login = client.post("/login", json={"username": "alice", "password": DEFAULT_PASSWORD})
    assert login.status_code == 401
    client.patch(f"/users/{user.id}", json={"is_active": True}, headers=admin_headers)
    assert client.get("/users/me", headers=auth_headers).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty"),
        pytest.param({"role": "superuser"}, id="unknown-role"),
        pytest.param({"is_active": "maybe"}, id="not-a-boolean"),
        pytest.param({"username": "renamed"}, id="username"),
        pytest.param({"id": 77}, id="id"),
        pytest.param({"password_hash": "$argon2id$forged"}, id="password_hash"),
        pytest.param({"role": "admin", "owner_id": 1}, id="owner_id-beside-a-valid-field"),
    ],
)
def test_patch_rejects_anything_but_role_and_is_active_with_422(
    client: FlaskClient, user: User, admin_headers: dict[str, str], body: dict[str, Any]
) -> None:
    before = (user.username, user.role, user.password_hash, user.is_active)
    response = client.patch(f"/users/{user.id}", json=body, headers=admin_headers)
    assert response.status_code == 422
    db.session.refresh(user)
    assert (user.username, user.role, user.password_hash, user.is_active) == before


def test_deleting_a_user_deletes_their_tasks_and_ends_their_tokens(
    client: FlaskClient,
    user: User,
    auth_headers: dict[str, str],
    admin: User,
    admin_headers: dict[str, str],
    make_task: Callable[..., Task],
) -> None:
    make_task()
    make_task(name="second")
    make_task(owner=admin)
    response = client.delete(f"/users/{user.id}", headers=admin_headers)
    assert response.status_code == 204
    db.session.expire_all()
    assert db.session.get(User, user.id) is None
    assert task_count(user) == 0
    assert task_count(admin) == 1
    assert client.get("/users/me", headers=auth_headers).status_code == 401


@pytest.mark.parametrize(
    ("method", "body"),
    [("patch", {"role": "user"}), ("patch", {"is_active": False}), ("delete", None)],
)
def test_the_last_active_admin_cannot_be_removed(
    client: FlaskClient, admin: User, admin_headers: dict[str, str], method: str, body: Any
) -> None:
    response = getattr(client, method)(f"/users/{admin.id}", json=body, headers=admin_headers)
    assert response.status_code == 409
    db.session.expire_all()
    still = db.session.get(User, admin.id)
    assert still is not None
    assert (still.role, still.is_active) == ("admin", True)


def test_an_admin_can_step_down_when_another_admin_remains(
    client: FlaskClient, admin: User, admin_headers: dict[str, str], make_user: Callable[..., User]
) -> None:
    make_user("root2", role=Role.ADMIN)
    response = client.patch(f"/users/{admin.id}", json={"role": "user"}, headers=admin_headers)
    assert response.status_code == 200
    assert response.json["role"] == "user"


def test_a_deleted_users_tokens_never_open_the_next_account(
    client: FlaskClient, admin_headers: dict[str, str], make_user: Callable[..., User]
) -> None:
    doomed = make_user("doomed")  # the newest account: the highest id
    doomed_id = doomed.id
    tokens = client.post("/login", json={"username": "doomed", "password": DEFAULT_PASSWORD}).json
    assert client.delete(f"/users/{doomed_id}", headers=admin_headers).status_code == 204

    newcomer = client.post("/register", json={"username": "newcomer", "password": "newcomer pw"})

    assert newcomer.status_code == 201
    assert newcomer.json["id"] != doomed_id  # ids are never reused
    assert client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.post("/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401


def test_a_token_never_opens_an_account_that_later_took_its_users_id(
    client: FlaskClient, make_user: Callable[..., User]
) -> None:
    # However an id comes back (a restored backup, a hand-made row), the old tokens stay dead.
    bob = make_user("bob")
    bob_id = bob.id
    tokens = client.post("/login", json={"username": "bob", "password": DEFAULT_PASSWORD}).json
    db.session.delete(bob)
    db.session.commit()
    db.session.add(User(id=bob_id, username="carol", password_hash=hash_password("carol pw 1")))
    db.session.commit()

    assert client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    assert client.post("/refresh", headers=bearer(tokens["refresh_token"])).status_code == 401
