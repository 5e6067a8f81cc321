"""Fixtures for the dashboard: a test client logged in through the login form."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import DEFAULT_PASSWORD
from website.models import User

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(page: str) -> str:
    """The CSRF value a page's forms carry."""
    found = CSRF_FIELD.search(page)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def log_in(
    client: FlaskClient, username: str, password: str = DEFAULT_PASSWORD, path: str = "/ui/login"
) -> TestResponse:
    """Open the login page and submit its form, as a browser does."""
    token = csrf_of(client.get(path).text)
    return client.post(path, data={"username": username, "password": password, "csrf_token": token})


class Session:
    """A browser-like client logged in to the dashboard, which posts forms as a page would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.csrf = ""

    def log_in(self, username: str, password: str = DEFAULT_PASSWORD) -> None:
        response = log_in(self.client, username, password)
        assert response.status_code == 302, response.text
        self.csrf = csrf_of(self.client.get("/ui/").text)

    def get(self, path: str, **options: object):  # type: ignore[no-untyped-def]
        return self.client.get(path, **options)

    def post(self, path: str, data: dict[str, object] | None = None, **options: object):  # type: ignore[no-untyped-def]
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **options)


@pytest.fixture
def ui(client: FlaskClient, user: User) -> Session:
    """``user`` logged in to the dashboard."""
    session = Session(client)
    session.log_in(user.username)
    return session


@pytest.fixture
def ui_for(app: object) -> Callable[[User], Session]:
    """Log another user in, on a client of its own."""

    def log_in(user: User) -> Session:
        from flask import current_app

        session = Session(current_app.test_client())
        session.log_in(user.username)
        return session

    return log_in
