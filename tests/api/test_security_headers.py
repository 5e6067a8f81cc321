"""Security headers: on every response, on token responses, and the Swagger UI page's policy."""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import DEFAULT_PASSWORD
from tests.support.apps import bearer
from website.models import User

INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def policy(headers: Any) -> dict[str, list[str]]:
    """The Content-Security-Policy header as {directive: [sources]}."""
    directives = (part.split() for part in headers.get("Content-Security-Policy", "").split(";"))
    return {words[0]: words[1:] for words in directives if words}


def sha256_source(script: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        pytest.param("get", "/healthz", None, id="health"),
        pytest.param("get", "/openapi.json", None, id="spec"),
        pytest.param("get", "/users/me", None, id="401"),
        pytest.param("get", "/no-such-page", None, id="404"),
        pytest.param("post", "/login", {"username": "nobody", "password": "x"}, id="login-401"),
        pytest.param("post", "/register", {"username": 1}, id="register-422"),
        pytest.param("get", "/swagger-ui", None, id="swagger-ui"),
        pytest.param("get", "/swagger-ui/assets/swagger-ui.css", None, id="asset"),
    ],
)
def test_every_response_forbids_sniffing_framing_and_referrers(
    client: FlaskClient, method: str, path: str, body: Any
) -> None:
    response = getattr(client, method)(path, json=body)
    headers = response.headers
    response.close()

    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("X-Frame-Options") == "DENY"
    assert policy(headers).get("frame-ancestors") == ["'none'"]
    assert headers.get("Referrer-Policy") == "no-referrer"


def test_token_responses_are_never_stored(client: FlaskClient, user: User) -> None:
    login = client.post("/login", json={"username": "alice", "password": DEFAULT_PASSWORD})
    refresh = client.post("/refresh", headers=bearer(login.json["refresh_token"]))
    failed = client.post("/login", json={"username": "alice", "password": "wrong password"})

    for response in (login, refresh, failed):
        assert response.headers.get("Cache-Control") == "no-store"


def test_the_swagger_ui_page_runs_only_the_apps_scripts(client: FlaskClient) -> None:
    response = client.get("/swagger-ui")
    page = response.get_data(as_text=True)
    directives = policy(response.headers)

    assert directives.get("default-src") == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["base-uri"] == ["'none'"]
    inline = INLINE_SCRIPT.findall(page)
    assert inline, "the page has its start-up script inline"
    assert sorted(directives["script-src"]) == sorted(
        ["'self'", *(sha256_source(script) for script in inline)]
    )
    for directive in ("style-src", "img-src", "connect-src"):
        assert "'unsafe-inline'" not in directives[directive], directive
        assert "*" not in directives[directive], directive
