"""The spec's examples work as Swagger UI pre-fills them, and its description is a quick start."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from tests.conftest import headers_for
from website import create_app
from website.models import Role, Task, User
from website.services.webhooks import create_webhook

# What Swagger UI falls back on for a property without an example: a made-up value of its type
# (or one matching its pattern), which the API may well refuse.
FALLBACKS = ("example", "default", "enum")


def resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def swagger_sample(spec: dict[str, Any], schema: dict[str, Any]) -> Any:
    """The body Swagger UI pre-fills: the schema's example, else each property's."""
    schema = resolve(spec, schema)
    if "example" in schema:
        return schema["example"]
    sample = {}
    for name, prop in schema.get("properties", {}).items():
        prop = resolve(spec, prop)
        if prop.get("readOnly"):
            continue
        if "example" in prop:
            sample[name] = prop["example"]
        elif "default" in prop:
            sample[name] = prop["default"]
        else:
            sample[name] = prop["enum"][0]
    return sample


def json_bodies(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation["requestBody"]["content"]["application/json"]["schema"])
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method != "parameters"
        and "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


@pytest.fixture
def spec(client: FlaskClient) -> dict[str, Any]:
    found: dict[str, Any] = client.get("/openapi.json").get_json()
    return found


def test_the_spec_describes_a_three_step_quick_start(spec: dict[str, Any]) -> None:
    description = spec["info"]["description"]
    assert "Quick start" in description
    for step in ("1. **Authorize**", "2. **`POST /tasks`**", "3. **`GET /tasks/{task_id}/status`"):
        assert step in description


def test_no_request_body_property_is_left_for_swagger_ui_to_make_up(spec: dict[str, Any]) -> None:
    for method, path, schema in json_bodies(spec):
        resolved = resolve(spec, schema)
        if "example" in resolved:
            continue
        for name, prop in resolved.get("properties", {}).items():
            prop = resolve(spec, prop)
            assert prop.get("readOnly") or any(key in prop for key in FALLBACKS), (
                f"{method} {path}: give {name!r} an example (metadata={{'example': ...}})"
            )


def test_every_pre_filled_body_is_accepted(
    client: FlaskClient,
    spec: dict[str, Any],
    make_user: Callable[..., User],
    make_task: Callable[..., Task],
) -> None:
    # The demo login of the examples, as an admin so that the admin operations answer too.
    demo = make_user("demo", password="demo-password", role=Role.ADMIN)
    webhook = create_webhook(
        demo.id, {"url": "https://hooks.example.com/", "events": ["task.exhausted"]}
    )
    variables = {
        "task_id": make_task(owner=demo).id,
        "user_id": make_user("bob").id,
        "webhook_id": webhook.id,
    }
    for method, path, schema in json_bodies(spec):
        response = client.open(
            path.format(**variables),
            method=method,
            json=swagger_sample(spec, schema),
            headers=headers_for(demo),
        )
        assert response.status_code < 300, (method, path, response.get_json())


def test_the_example_task_fetches_the_demo_feed_now_and_every_10_seconds(
    client: FlaskClient, spec: dict[str, Any], user: User, auth_headers: dict[str, str]
) -> None:
    example = spec["components"]["schemas"]["TaskCreate"]["example"]
    created = client.post("/tasks", json=example, headers=auth_headers)

    assert created.status_code == 201
    task = created.get_json()
    assert task["url"].endswith("/demo/events/amazingexpo2020.json")
    assert task["task_interval"] == 10
    assert task["state"] == "active"
    next_run = datetime.fromisoformat(task["next_run_at"])
    assert next_run <= datetime.now(UTC) + timedelta(seconds=1)
    assert set(spec["components"]["schemas"]["Task"]["example"]) == set(task)


def test_the_example_task_follows_where_the_demo_feed_is_served(
    test_environment: dict[str, str],
) -> None:
    def example_url(**config: Any) -> str:
        app = create_app({"TESTING": True, **config})
        spec = app.test_client().get("/openapi.json").get_json()
        url: str = spec["components"]["schemas"]["TaskCreate"]["example"]["url"]
        return url

    served = example_url(DEMO_BASE_URL="http://127.0.0.1:8501/")
    assert served == "http://127.0.0.1:8501/demo/events/amazingexpo2020.json"
    assert example_url(DEMO_FEED=False).startswith("https://")
