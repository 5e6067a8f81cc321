"""The Insomnia collection (insomnia/challenge.json) and the OpenAPI spec never drift apart."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_jwt_extended import create_access_token
from werkzeug.exceptions import MethodNotAllowed, NotFound

from website.models import Role, Task, User
from website.services.webhooks import create_webhook

COLLECTION = Path(__file__).resolve().parents[2] / "insomnia" / "challenge.json"
REGENERATE = "run `python insomnia/generate.py` and commit insomnia/challenge.json"
TEMPLATE_VARIABLE = re.compile(r"\{\{ _\.(\w+) \}\}")
NOW_MILLIS_TAG = "{% now 'millis', '' %}"  # Insomnia's built-in timestamp tag
NEWCOMER_SESSION = {("POST", "/logout"), ("POST", "/users/me/password")}


@pytest.fixture(scope="module")
def export() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(COLLECTION.read_text())
    return loaded


@pytest.fixture(scope="module")
def requests(export: dict[str, Any]) -> list[dict[str, Any]]:
    return [item for item in export["resources"] if item["_type"] == "request"]


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/openapi.json").get_json()
    return found


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    }


def path_of(request: dict[str, Any]) -> str:
    """The request's URL as a spec path: ``{{ _.base_url }}/tasks/{{ _.task_id }}`` -> ..."""
    url: str = request["url"]
    assert url.startswith("{{ _.base_url }}/"), url
    return TEMPLATE_VARIABLE.sub(r"{\1}", url.removeprefix("{{ _.base_url }}"))


def render(template: str, variables: dict[str, Any]) -> str:
    """What Insomnia sends for ``template``: environment variables and the timestamp tag filled."""
    rendered = template.replace(NOW_MILLIS_TAG, str(time.time_ns() // 1_000_000))
    return TEMPLATE_VARIABLE.sub(lambda match: str(variables[match.group(1)]), rendered)


def request_named(requests: list[dict[str, Any]], method: str, path: str) -> dict[str, Any]:
    (found,) = [r for r in requests if r["method"] == method and path_of(r) == path]
    return found


def send(client: FlaskClient, request: dict[str, Any], variables: dict[str, Any], path: str) -> Any:
    """Send ``request`` as Insomnia would, its bearer and body rendered with ``variables``."""
    headers = {}
    if request["authentication"]:
        headers["Authorization"] = f"Bearer {render(request['authentication']['token'], variables)}"
    body = request["body"]
    if body.get("mimeType") == "application/x-www-form-urlencoded":
        form = {param["name"]: render(param["value"], variables) for param in body["params"]}
        return client.open(path, method=request["method"], data=form, headers=headers)
    if body:
        return client.open(
            path, method=request["method"], data=render(body["text"], variables),
            headers=headers, content_type="application/json",
        )  # fmt: skip
    return client.open(path, method=request["method"], headers=headers)


def test_collection_is_an_insomnia_v4_export_with_a_workspace_and_a_base_environment(
    export: dict[str, Any],
) -> None:
    assert export["_type"] == "export"
    assert export["__export_format"] == 4
    (workspace,) = [item for item in export["resources"] if item["_type"] == "workspace"]
    (environment,) = [item for item in export["resources"] if item["_type"] == "environment"]
    assert environment["parentId"] == workspace["_id"]
    assert {"base_url", "access_token", "refresh_token", "task_id"} <= set(environment["data"])
    ids = [item["_id"] for item in export["resources"]]
    assert len(ids) == len(set(ids))


def test_every_operation_of_the_spec_has_a_request(
    spec: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    covered = {(request["method"], path_of(request)) for request in requests}
    missing = sorted(set(operations(spec)) - covered)
    assert not missing, f"operations without a request: {missing}; {REGENERATE}"


def test_every_request_names_an_operation_and_a_path_the_api_has(
    app: Flask, spec: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    routes = app.url_map.bind("localhost")
    known = operations(spec)
    for request in requests:
        method, path = request["method"], path_of(request)
        assert (method, path) in known, f"{method} {path} is not in the spec; {REGENERATE}"
        concrete = re.sub(r"\{\w+\}", "1", path)
        try:
            routes.match(concrete, method=method)
        except (NotFound, MethodNotAllowed):
            pytest.fail(f"{method} {concrete} has no route in the app; {REGENERATE}")


def test_requests_sit_in_a_folder_per_area(
    export: dict[str, Any], spec: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    folders = {
        item["_id"]: item["name"].lower()
        for item in export["resources"]
        if item["_type"] == "request_group"
    }
    known = operations(spec)
    for request in requests:
        operation = known[(request["method"], path_of(request))]
        assert folders[request["parentId"]] == operation["tags"][0]


def test_protected_requests_carry_the_bearer_token_from_the_environment(
    spec: dict[str, Any], requests: list[dict[str, Any]]
) -> None:
    known = operations(spec)
    for request in requests:
        path = path_of(request)
        security = known[(request["method"], path)].get("security", [])
        if any("bearerAuth" in requirement for requirement in security):
            token = "refresh_token" if path == "/refresh" else "access_token"
            if (request["method"], path) in NEWCOMER_SESSION:
                token = "newcomer_token"
            assert request["authentication"] == {"type": "bearer", "token": f"{{{{ _.{token} }}}}"}
        else:
            assert not request["authentication"], f"{path} needs no token"


def test_create_a_task_sends_a_task_that_runs_now_against_the_demo_feed(
    client: FlaskClient, requests: list[dict[str, Any]], auth_headers: dict[str, str]
) -> None:
    create = request_named(requests, "POST", "/tasks")
    assert create["body"]["mimeType"] == "application/json"
    body = json.loads(create["body"]["text"])
    assert "start_time" not in body  # it starts now
    assert "end_time" not in body  # and never ends
    assert body["url"] == "{{ _.base_url }}/demo/events/amazingexpo2020.json"

    rendered = render(create["body"]["text"], {"base_url": "http://127.0.0.1:8000"})
    response = client.post("/tasks", data=rendered, headers=auth_headers,
                           content_type="application/json")  # fmt: skip
    assert response.status_code == 201
    assert response.get_json()["state"] == "active"


def test_register_makes_a_new_account_every_time(
    client: FlaskClient, requests: list[dict[str, Any]]
) -> None:
    register = request_named(requests, "POST", "/register")
    names = set()
    for _ in range(2):
        response = send(client, register, {}, "/register")
        assert response.status_code == 201, response.get_json()
        names.add(response.get_json()["username"])
        time.sleep(0.002)  # the tag has millisecond resolution
    assert len(names) == 2


def test_the_requests_that_end_sessions_leave_the_demo_session_working(
    client: FlaskClient,
    make_user: Callable[..., User],
    export: dict[str, Any],
    requests: list[dict[str, Any]],
) -> None:
    make_user("demo", password="demo-password")
    variables: dict[str, Any] = {}
    login = send(client, request_named(requests, "POST", "/login"), variables, "/login")
    variables["access_token"] = login.get_json()["access_token"]
    register = send(client, request_named(requests, "POST", "/register"), variables, "/register")
    variables["newcomer_username"] = register.get_json()["username"]
    (environment,) = [item for item in export["resources"] if item["_type"] == "environment"]
    assert "req_post_register" in environment["data"]["newcomer_username"]
    assert "req_post_token" in environment["data"]["newcomer_token"]
    token_request = request_named(requests, "POST", "/token")

    for method, path in sorted(NEWCOMER_SESSION):
        # The environment's newcomer_token re-sends "Log in (form)" every time ("always").
        token = send(client, token_request, variables, "/token")
        assert token.status_code == 200, token.get_json()
        variables["newcomer_token"] = token.get_json()["access_token"]
        response = send(client, request_named(requests, method, path), variables, path)
        assert response.status_code < 300, (method, path, response.get_json())

    me = request_named(requests, "GET", "/users/me")
    assert send(client, me, variables, "/users/me").get_json()["username"] == "demo"


def test_every_example_body_is_accepted_by_the_api(
    client: FlaskClient,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    spec: dict[str, Any],
    requests: list[dict[str, Any]],
) -> None:
    # The demo login of the "Log in" example, as an admin so that the admin requests answer too.
    demo = make_user("demo", password="demo-password", role=Role.ADMIN)
    newcomer = make_user("newcomer", password="correct horse battery staple")
    webhook = create_webhook(
        demo.id, {"url": "https://hooks.example.com/", "events": ["task.exhausted"]}
    )
    variables: dict[str, Any] = {
        "task_id": make_task(owner=demo).id,
        "user_id": make_user("bob").id,
        "webhook_id": webhook.id,
        "base_url": "http://127.0.0.1:8000",
        "newcomer_username": "newcomer",
    }
    bodies = [request for request in requests if request["body"]]
    assert {(r["method"], path_of(r)) for r in bodies} == {
        key for key, operation in operations(spec).items() if "requestBody" in operation
    }
    for request in bodies:
        variables["access_token"] = create_access_token(identity=str(demo.id))
        variables["newcomer_token"] = create_access_token(identity=str(newcomer.id))
        path = path_of(request).format(**variables)
        response = send(client, request, variables, path)
        assert response.status_code < 300, (request["name"], response.get_json())
