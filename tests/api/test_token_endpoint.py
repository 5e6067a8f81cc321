"""POST /token: an OAuth 2.0 password grant in form data, as Swagger UI's Authorize sends it."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import DEFAULT_PASSWORD
from website.models import User


def grant(**fields: str) -> dict[str, str]:
    return {"grant_type": "password", "username": "alice", "password": DEFAULT_PASSWORD, **fields}


def test_a_password_grant_answers_a_bearer_token_that_works(
    client: FlaskClient, user: User
) -> None:
    response = client.post("/token", data=grant())

    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 15 * 60
    assert response.headers["Cache-Control"] == "no-store"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.get("/users/me", headers=headers).get_json()["username"] == "alice"
    refreshed = client.post(
        "/refresh", headers={"Authorization": f"Bearer {body['refresh_token']}"}
    )
    assert refreshed.status_code == 200


def test_the_fields_swagger_ui_adds_are_accepted_and_ignored(
    client: FlaskClient, user: User
) -> None:
    response = client.post("/token", data=grant(scope="", client_id="", client_secret=""))
    assert response.status_code == 200


@pytest.mark.parametrize("password", ["wrong password", ""])
def test_wrong_credentials_are_a_401_in_the_apis_error_format(
    client: FlaskClient, user: User, password: str
) -> None:
    response = client.post("/token", data=grant(password=password))

    assert response.status_code == 401
    body = response.get_json()
    assert set(body) == {"code", "status", "message", "errors"}
    assert body["message"] == "Invalid username or password"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        (grant(grant_type="client_credentials"), "grant_type"),
        ({"username": "alice", "password": DEFAULT_PASSWORD}, "grant_type"),
        (grant(role="admin"), "role"),
    ],
)
def test_a_malformed_grant_is_a_422_naming_the_field(
    client: FlaskClient, user: User, form: dict[str, Any], field: str
) -> None:
    response = client.post("/token", data=form)

    assert response.status_code == 422
    assert field in response.get_json()["errors"]


def test_a_json_body_is_refused_as_it_carries_no_form(client: FlaskClient, user: User) -> None:
    response = client.post("/token", json=grant())

    assert response.status_code == 422


def test_the_spec_offers_the_password_flow_on_every_protected_operation(
    client: FlaskClient,
) -> None:
    spec = client.get("/openapi.json").get_json()
    scheme = spec["components"]["securitySchemes"]["passwordLogin"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/token"
    token_body = spec["paths"]["/token"]["post"]["requestBody"]["content"]
    assert list(token_body) == ["application/x-www-form-urlencoded"]
    assert {"bearerAuth": []} in spec["paths"]["/tasks"]["post"]["security"]
    assert {"passwordLogin": []} in spec["paths"]["/tasks"]["post"]["security"]
