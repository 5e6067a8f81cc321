"""Logging in and out of the dashboard: cookies, CSRF, revocation, and the API left as it was."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.ui.conftest import Session, log_in
from website import create_app
from website.models import Task, User

PAGES = [
    "/ui/",
    "/ui/overview/numbers",
    "/ui/tasks",
    "/ui/tasks/table",
    "/ui/tasks/new",
    "/ui/tasks/1",
    "/ui/tasks/1/edit",
    "/ui/tasks/1/delete",
    "/ui/failures",
    "/ui/import",
    "/ui/users",
]
ACTIONS = ["run", "pause", "resume", "reset-attempt", "cancel", "delete"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_a_visitor_who_is_not_logged_in_to_the_login_page(
    client: FlaskClient, path: str
) -> None:
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/login?next=")


@pytest.mark.parametrize("action", ACTIONS)
def test_no_action_is_taken_for_a_visitor_who_is_not_logged_in(
    client: FlaskClient, make_task: Callable[..., Task], action: str
) -> None:
    task = make_task()

    response = client.post(f"/ui/tasks/{task.id}/{action}")

    assert response.status_code == 302
    assert client.get(f"/tasks/{task.id}").status_code == 401  # the API is untouched too


def test_logging_in_sets_an_http_only_same_site_cookie_for_the_dashboard_only(
    client: FlaskClient, user: User
) -> None:
    response = log_in(client, "alice")

    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/"
    cookies = response.headers.getlist("Set-Cookie")
    access = next(cookie for cookie in cookies if cookie.startswith("access_token_cookie="))
    assert "HttpOnly" in access
    assert "SameSite=Lax" in access
    assert "Path=/ui/" in access


def test_a_wrong_password_is_refused_with_the_apis_message(client: FlaskClient, user: User) -> None:
    page = log_in(client, "alice", "wrong password")
    api = client.post("/login", json={"username": "alice", "password": "wrong password"})

    assert page.status_code == 401
    assert api.json["message"] in page.text
    assert "access_token_cookie" not in page.headers.get("Set-Cookie", "")


def test_login_goes_back_to_the_page_asked_for_but_never_to_another_site(
    app: Flask, client: FlaskClient, user: User
) -> None:
    inside = log_in(client, "alice", path="/ui/login?next=/ui/failures")
    outside = log_in(app.test_client(), "alice", path="/ui/login?next=https://evil.example/ui/")

    assert inside.headers["Location"] == "/ui/failures"
    assert outside.headers["Location"] == "/ui/"


def test_a_login_posted_from_elsewhere_without_the_login_pages_nonce_is_refused(
    client: FlaskClient, user: User
) -> None:
    client.get("/ui/login")  # the nonce cookie is set, but another site cannot read the form

    response = client.post(
        "/ui/login",
        data={"username": "alice", "password": "correct horse battery", "csrf_token": "guess"},
    )

    assert response.status_code == 400
    assert "access_token_cookie" not in str(response.headers.getlist("Set-Cookie"))


def test_the_api_does_not_accept_the_dashboards_cookie(ui: Session) -> None:
    assert ui.client.get("/ui/tasks").status_code == 200

    assert ui.client.get("/tasks").status_code == 401
    assert (
        ui.client.post("/tasks", json={"name": "x", "url": "http://example.com"}).status_code == 401
    )


@pytest.mark.parametrize("token", [None, "forged"])
def test_a_state_changing_request_without_the_csrf_token_is_refused(
    ui: Session, make_task: Callable[..., Task], token: str | None
) -> None:
    task = make_task()
    data = {} if token is None else {"csrf_token": token}

    response = ui.client.post(f"/ui/tasks/{task.id}/pause", data=data)

    assert response.status_code == 400
    assert "CSRF" in response.text
    assert ui.client.get(f"/ui/tasks/{task.id}").text.count(">Pause<") == 1  # still active


def test_logging_out_revokes_the_token_even_if_the_cookie_is_kept(ui: Session) -> None:
    kept = ui.client.get_cookie("access_token_cookie", path="/ui/")
    assert kept is not None

    response = ui.post("/ui/logout")

    assert response.status_code == 302
    assert response.headers["Location"] == "/ui/login"
    ui.client.set_cookie("access_token_cookie", kept.value, path="/ui/")
    ui.client.delete_cookie("refresh_token_cookie", path="/ui/")
    assert ui.get("/ui/tasks").status_code == 302


def test_an_expired_access_token_is_renewed_from_the_refresh_cookie(
    app: Flask, ui: Session
) -> None:
    ui.client.delete_cookie("access_token_cookie", path="/ui/")
    ui.client.set_cookie("access_token_cookie", "expired.or.missing", path="/ui/")

    assert ui.get("/ui/tasks").status_code == 302  # a broken token is not renewed

    session = Session(app.test_client())
    app.config["JWT_ACCESS_TOKEN_EXPIRES"] = -1  # tokens issued now are already expired
    try:
        log_in(session.client, "alice")
    finally:
        app.config["JWT_ACCESS_TOKEN_EXPIRES"] = 900
    renewed = session.get("/ui/tasks")
    assert renewed.status_code == 302
    assert renewed.headers["Location"] == "/ui/tasks"
    assert session.get("/ui/tasks").status_code == 200


def test_a_deactivated_users_session_ends_at_once(
    ui_for: Callable[[User], Session], make_user: Callable[..., User]
) -> None:
    from website.models import Role

    admin = ui_for(make_user("root", role=Role.ADMIN))
    bob = make_user("bob")
    session = ui_for(bob)

    admin.post(f"/ui/users/{bob.id}/active", data={"active": "0"})

    assert session.get("/ui/tasks").status_code == 302


def test_pages_carry_a_content_security_policy_without_inline_scripts(ui: Session) -> None:
    for path in ("/ui/", "/ui/tasks", "/ui/tasks/new", "/ui/failures", "/ui/login"):
        response = ui.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"
        assert "<script>" not in response.text
        assert " style=" not in response.text
        assert " onclick=" not in response.text


def test_static_files_are_served_with_nosniff(client: FlaskClient) -> None:
    with client.get("/ui/static/dashboard.js") as response:
        assert response.status_code == 200
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_dashboard_can_be_turned_off(test_environment: dict[str, str]) -> None:
    app = create_app({"TESTING": True, "UI_ENABLED": False})
    assert "ui" not in app.blueprints
