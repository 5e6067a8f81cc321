"""The Insomnia collection (insomnia/challenge.json) and the OpenAPI spec never drift apart."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import MethodNotAllowed, NotFound

from tests.conftest import headers_for
from tests.support.examples import ORIGINAL_EXAMPLE_TASK
from website.models import Role, Task, User
from website.services.webhooks import create_webhook

COLLECTION = Path(__file__).resolve().parents[2] / "insomnia" / "challenge.json"
REGENERATE = "run `python insomnia/generate.py` and commit insomnia/challenge.json"
TEMPLATE_VARIABLE = re.compile(r"\{\{ _\.(\w+) \}\}")


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
            assert request["authentication"] == {"type": "bearer", "token": f"{{{{ _.{token} }}}}"}
        else:
            assert not request["authentication"], f"{path} needs no token"


def test_create_a_task_sends_the_original_example_body(requests: list[dict[str, Any]]) -> None:
    (create,) = [r for r in requests if r["method"] == "POST" and path_of(r) == "/tasks"]
    assert create["body"]["mimeType"] == "application/json"
    assert json.loads(create["body"]["text"]) == ORIGINAL_EXAMPLE_TASK


def test_every_example_body_is_accepted_by_the_api(
    client: FlaskClient,
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
    spec: dict[str, Any],
    requests: list[dict[str, Any]],
) -> None:
    # The demo login of the "Log in" example, as an admin so that the admin requests answer too.
    demo = make_user("demo", password="demo-password", role=Role.ADMIN)
    webhook = create_webhook(
        demo.id, {"url": "https://hooks.example.com/", "events": ["task.exhausted"]}
    )
    variables = {
        "task_id": make_task(owner=demo).id,
        "user_id": make_user("bob").id,
        "webhook_id": webhook.id,
    }
    bodies = [request for request in requests if request["body"]]
    assert {(r["method"], path_of(r)) for r in bodies} == {
        key for key, operation in operations(spec).items() if "requestBody" in operation
    }
    for request in bodies:
        path = path_of(request).format(**variables)
        headers = headers_for(demo) if request["authentication"] else {}
        response = client.open(
            path, method=request["method"], data=request["body"]["text"], headers=headers,
            content_type="application/json",
        )  # fmt: skip
        assert response.status_code < 300, (request["name"], response.get_json())
