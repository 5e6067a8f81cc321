"""Swagger UI works offline: the page and every asset it loads come from the app itself."""

from __future__ import annotations

import json
import re

import pytest
from flask.testing import FlaskClient

from website import create_app

TASK_OPERATIONS = {
    ("/tasks", "get"),
    ("/tasks", "post"),
    ("/tasks/{task_id}", "get"),
    ("/tasks/{task_id}", "patch"),
    ("/tasks/{task_id}", "delete"),
    ("/tasks/{task_id}/status", "get"),
    ("/tasks/{task_id}/pause", "post"),
    ("/tasks/{task_id}/resume", "post"),
    ("/tasks/{task_id}/reset-attempt", "post"),
    ("/tasks/{task_id}/run", "post"),
    ("/tasks/{task_id}/jobs", "get"),
    ("/tasks/{task_id}/data", "get"),
    ("/jobs/{job_id}", "get"),
    ("/jobs/{job_id}/data", "get"),
}


def asset_urls(page: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', page)


def test_swagger_ui_page_loads_its_assets_from_the_app_only(client: FlaskClient) -> None:
    response = client.get("/swagger-ui")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    urls = asset_urls(page)
    assert urls, "the page references its scripts and style sheet"
    assert all(url.startswith("/swagger-ui/assets/") for url in urls), urls
    assert "//" not in "".join(urls)


@pytest.mark.parametrize(
    ("asset", "content_type"),
    [
        ("swagger-ui-bundle.js", "javascript"),
        ("swagger-ui-standalone-preset.js", "javascript"),
        ("swagger-ui.css", "text/css"),
    ],
)
def test_each_swagger_ui_asset_is_served_by_the_app(
    client: FlaskClient, asset: str, content_type: str
) -> None:
    response = client.get(f"/swagger-ui/assets/{asset}")

    assert response.status_code == 200
    assert content_type in response.content_type
    assert len(response.data) > 1000
    response.close()


def test_every_asset_the_page_names_is_served(client: FlaskClient) -> None:
    page = client.get("/swagger-ui").get_data(as_text=True)

    for url in asset_urls(page):
        response = client.get(url)
        assert response.status_code == 200, url
        response.close()


def test_swagger_ui_keeps_the_authorization_across_reloads(client: FlaskClient) -> None:
    page = client.get("/swagger-ui").get_data(as_text=True)

    override = re.search(r"var override_config = (\{.*?\});", page, re.DOTALL)
    assert override is not None
    assert json.loads(override.group(1))["persistAuthorization"] is True


def test_swagger_ui_reads_the_apps_own_spec(client: FlaskClient) -> None:
    page = client.get("/swagger-ui").get_data(as_text=True)

    assert 'url: "/openapi.json"' in page


def test_an_unknown_asset_is_a_404(client: FlaskClient) -> None:
    assert client.get("/swagger-ui/assets/no-such-file.js").status_code == 404
    assert client.get("/swagger-ui/assets/../../website/config.py").status_code == 404


def test_the_spec_documents_every_task_and_job_operation_with_bearer_auth(
    client: FlaskClient,
) -> None:
    spec = client.get("/openapi.json").json

    documented = {
        (path, method)
        for path, operations in spec["paths"].items()
        for method in operations
        if method != "parameters"
    }
    assert documented >= TASK_OPERATIONS
    for path, method in TASK_OPERATIONS:
        operation = spec["paths"][path][method]
        assert {"bearerAuth": []} in operation["security"], (path, method)
        assert "401" in operation["responses"], (path, method)


def test_the_spec_shows_this_deployments_task_limits(test_environment: dict[str, str]) -> None:
    app = create_app({"TESTING": True, "MIN_TASK_INTERVAL": 15, "MAX_EXECUTION_TIME": 42})

    spec = app.test_client().get("/openapi.json").json

    for component in ("TaskCreate", "TaskUpdate"):
        properties = spec["components"]["schemas"][component]["properties"]
        assert properties["task_interval"]["minimum"] == 15
        assert properties["max_execution_time"]["maximum"] == 42
