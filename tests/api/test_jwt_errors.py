"""Every way a JWT can be wrong is a 401 in the API's error format, never a 422 or {"msg"}."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token, create_refresh_token, decode_token

from tests.conftest import DEFAULT_PASSWORD, free_port, headers_for
from tests.support.apps import another_app, bearer
from website.config import ConfigError, load_config
from website.extensions import db
from website.models import User

ERROR_KEYS = {"code", "status", "message", "errors"}
OTHER_KEY = "a-different-secret-that-is-long-enough-0123456789"


def valid_claims(user: User, **overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "jti": str(uuid.uuid4()),
        "type": "access",
        "fresh": False,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
        "role": user.role,
    }
    return {**claims, **overrides}


def base64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def unsigned_token(user: User) -> str:
    """An ``alg: none`` token: a valid header and payload and no signature."""
    return f"{base64url({'alg': 'none', 'typ': 'JWT'})}.{base64url(valid_claims(user))}."


def assert_is_api_401(response: Any) -> None:
    assert response.status_code == 401
    assert set(response.json) == ERROR_KEYS
    assert response.json["code"] == 401
    assert response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_valid_access_token_reaches_a_protected_route(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    assert client.get("/users/me", headers=auth_headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Authorization": ""}, id="empty"),
        pytest.param({"Authorization": "Bearer"}, id="bearer-without-token"),
        pytest.param({"Authorization": "Basic YWxpY2U6c2VjcmV0"}, id="basic-scheme"),
        pytest.param({"Authorization": "Bearer not-a-jwt"}, id="garbage"),
        pytest.param({"Authorization": "Bearer a.b.c"}, id="three-bad-segments"),
        pytest.param({"Authorization": "Bearer one two"}, id="two-tokens"),
    ],
)
def test_a_missing_or_malformed_token_is_a_401(
    client: FlaskClient, user: User, headers: dict[str, str]
) -> None:
    assert_is_api_401(client.get("/users/me", headers=headers))


def test_a_token_signed_with_another_key_is_a_401(client: FlaskClient, user: User) -> None:
    forged = jwt.encode(valid_claims(user), OTHER_KEY, algorithm="HS256")
    assert_is_api_401(client.get("/users/me", headers=bearer(forged)))


def test_an_alg_none_token_is_a_401(client: FlaskClient, user: User) -> None:
    assert_is_api_401(client.get("/users/me", headers=bearer(unsigned_token(user))))


def test_a_token_signed_with_the_right_key_but_another_algorithm_is_a_401(
    app: Flask, client: FlaskClient, user: User
) -> None:
    token = jwt.encode(valid_claims(user), app.config["JWT_SECRET_KEY"], algorithm="HS512")
    assert_is_api_401(client.get("/users/me", headers=bearer(token)))


def test_an_expired_token_is_a_401(client: FlaskClient, user: User) -> None:
    expired = create_access_token(identity=user, expires_delta=timedelta(seconds=-60))
    response = client.get("/users/me", headers=bearer(expired))
    assert_is_api_401(response)
    assert response.json["message"] == "Token has expired"


def test_a_revoked_access_token_is_a_401(client: FlaskClient, user: User) -> None:
    token = create_access_token(identity=user)
    assert client.post("/logout", headers=bearer(token)).status_code == 204
    response = client.get("/users/me", headers=bearer(token))
    assert_is_api_401(response)
    assert response.json["message"] == "Token has been revoked"


def test_a_refresh_token_used_as_an_access_token_is_a_401(client: FlaskClient, user: User) -> None:
    assert_is_api_401(client.get("/users/me", headers=bearer(create_refresh_token(identity=user))))


def test_an_access_token_used_as_a_refresh_token_is_a_401(client: FlaskClient, user: User) -> None:
    assert_is_api_401(client.post("/refresh", headers=bearer(create_access_token(identity=user))))


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"sub": 1}, id="numeric-identity"),
        pytest.param({"sub": "not-a-number"}, id="non-numeric-identity"),
        pytest.param({"sub": "999999"}, id="no-such-user"),
        pytest.param({"type": "bogus"}, id="unknown-type"),
        pytest.param({"nbf": int(time.time()) + 3600}, id="not-yet-valid"),
    ],
)
def test_a_well_signed_token_with_bad_claims_is_a_401(
    app: Flask, client: FlaskClient, user: User, overrides: dict[str, Any]
) -> None:
    token = jwt.encode(
        valid_claims(user, **overrides), app.config["JWT_SECRET_KEY"], algorithm="HS256"
    )
    assert_is_api_401(client.get("/users/me", headers=bearer(token)))


WITHOUT = object()  # a claim left out of the token


@pytest.mark.parametrize(
    ("claim", "value"),
    [
        pytest.param("jti", WITHOUT, id="no-jti"),
        pytest.param("exp", WITHOUT, id="no-exp"),
        pytest.param("jti", 12345, id="numeric-jti"),
        pytest.param("jti", None, id="null-jti"),
    ],
)
@pytest.mark.parametrize(
    ("method", "path", "make_token"),
    [
        pytest.param("get", "/users/me", create_access_token, id="use"),
        pytest.param("post", "/logout", create_access_token, id="logout"),
        pytest.param("post", "/refresh", create_refresh_token, id="refresh"),
    ],
)
def test_a_signed_token_without_a_usable_jti_or_exp_is_a_401(
    app: Flask,
    client: FlaskClient,
    user: User,
    claim: str,
    value: object,
    method: str,
    path: str,
    make_token: Callable[..., str],
) -> None:
    # Everything a token of ours carries, signed with the right key, but for one claim: as a
    # leaked key or another token issuer could make it. It cannot be revoked, so it is refused.
    claims = decode_token(make_token(identity=user))
    if value is WITHOUT:
        del claims[claim]
    else:
        claims[claim] = value
    token = jwt.encode(claims, app.config["JWT_SECRET_KEY"], algorithm="HS256")
    assert_is_api_401(client.open(path, method=method.upper(), headers=bearer(token)))


def test_a_deactivated_users_token_stops_working(client: FlaskClient, user: User) -> None:
    headers = headers_for(user)
    user.is_active = False
    db.session.commit()
    assert_is_api_401(client.get("/users/me", headers=headers))


def test_a_deleted_users_token_stops_working(client: FlaskClient, user: User) -> None:
    headers = headers_for(user)
    db.session.delete(user)
    db.session.commit()
    assert_is_api_401(client.get("/users/me", headers=headers))


def test_tokens_carry_a_string_identity_and_the_configured_lifetimes(
    app: Flask, client: FlaskClient, user: User
) -> None:
    tokens = client.post(
        "/login", json={"username": user.username, "password": DEFAULT_PASSWORD}
    ).json
    secret = app.config["JWT_SECRET_KEY"]
    access = jwt.decode(tokens["access_token"], secret, algorithms=["HS256"])
    refresh = jwt.decode(tokens["refresh_token"], secret, algorithms=["HS256"])
    assert access["sub"] == str(user.id)
    assert access["type"] == "access"
    assert refresh["type"] == "refresh"
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 30 * 24 * 3600


def test_token_lifetimes_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("JWT_ACCESS_TOKEN_EXPIRES", "60")
    monkeypatch.setenv("JWT_REFRESH_TOKEN_EXPIRES", "3600")
    config = load_config(tmp_path)
    assert config["JWT_ACCESS_TOKEN_EXPIRES"] == timedelta(seconds=60)
    assert config["JWT_REFRESH_TOKEN_EXPIRES"] == timedelta(hours=1)


@pytest.mark.parametrize(
    "jwt_secret",
    [
        pytest.param(None, id="missing"),
        pytest.param("x" * 31, id="31-bytes"),
    ],
)
def test_production_refuses_to_start_without_a_strong_jwt_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, jwt_secret: str | None
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    if jwt_secret is None:
        monkeypatch.delenv("JWT_SECRET_KEY", raising=False)
    else:
        monkeypatch.setenv("JWT_SECRET_KEY", jwt_secret)
    with pytest.raises(ConfigError, match="JWT_SECRET_KEY"):
        load_config(tmp_path)


def test_production_starts_with_a_32_byte_jwt_secret(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("JWT_SECRET_KEY", "j" * 32)
    assert load_config(tmp_path)["JWT_SECRET_KEY"] == "j" * 32


def test_an_unreachable_blocklist_fails_closed_with_503(
    app: Flask, make_user: Callable[..., User]
) -> None:
    # A Redis nobody listens on: the token cannot be checked against the blocklist.
    with another_app(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0") as cut_off:
        with cut_off.app_context():
            headers = headers_for(make_user("bob"))
        response = cut_off.test_client().get("/users/me", headers=headers)
    assert response.status_code == 503
    assert set(response.json) == ERROR_KEYS


def test_a_token_accepted_before_is_refused_once_it_expires(
    client: FlaskClient, user: User
) -> None:
    # The app remembers the tokens it verified; a remembered token's clock is still checked.
    token = create_access_token(identity=user, expires_delta=timedelta(seconds=1))
    assert client.get("/users/me", headers=bearer(token)).status_code == 200
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires_at - time.time()) + 0.05)

    response = client.get("/users/me", headers=bearer(token))

    assert_is_api_401(response)
    assert response.json["message"] == "Token has expired"


def test_a_token_one_app_accepted_is_refused_by_an_app_with_another_key(
    client: FlaskClient, user: User
) -> None:
    token = create_access_token(identity=user)
    assert client.get("/users/me", headers=bearer(token)).status_code == 200

    with another_app(JWT_SECRET_KEY=OTHER_KEY) as other:
        assert_is_api_401(other.test_client().get("/users/me", headers=bearer(token)))


def test_a_token_accepted_before_is_refused_once_revoked_or_its_user_deactivated(
    client: FlaskClient, user: User, make_user: Callable[..., User]
) -> None:
    token = create_access_token(identity=user)
    assert client.get("/users/me", headers=bearer(token)).status_code == 200
    assert client.post("/logout", headers=bearer(token)).status_code == 204
    assert_is_api_401(client.get("/users/me", headers=bearer(token)))

    other = make_user("second-user")
    other_token = create_access_token(identity=other)
    assert client.get("/tasks", headers=bearer(other_token)).status_code == 200
    other.is_active = False
    db.session.commit()
    assert_is_api_401(client.get("/tasks", headers=bearer(other_token)))
