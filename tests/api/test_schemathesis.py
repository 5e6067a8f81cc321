"""Property-based API tests driven by the app's own OpenAPI spec (schemathesis, default checks).

Every operation of the spec is called by an authenticated user with generated requests, valid
and invalid; schemathesis's default checks then require: no server error, only documented status
codes, content types and headers, responses matching their documented schemas, invalid data
refused and valid data accepted.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import jmespath
import pytest
import schemathesis
from flask import Flask
from flask_jwt_extended import create_access_token
from hypothesis import HealthCheck, settings
from jmespath.exceptions import JMESPathError

from tests.support.job_rows import add_job
from website import create_app
from website.errors import InvalidInput
from website.models import Task, User
from website.schemas.task_parameters import FORBIDDEN_HEADERS, HEADER_NAME
from website.services.fetch import validate_task_url
from website.services.webhooks import create_webhook

EXAMPLES_PER_OPERATION = 25  # enough to find edge cases, small enough for two shared cores
SEEDED_TASKS = 3  # ids 1..3 exist, so generated small ids reach real tasks, jobs and data
PUBLIC_URL = "https://example.com/feed.json"
TASK_BODY_PATHS = {"/tasks", "/tasks/{task_id}"}
API_KEYS_PATH = "/users/me/api-keys"
TASK_BATCH_PATH = "/tasks/batch"  # each item is a POST /tasks body
WEBHOOK_BODY_PATHS = {"/webhooks", "/webhooks/{webhook_id}"}
EARLIEST_START = "0001-01-01T00:00:00Z"

# The spec is read when tests are collected, before the session's database exists: from an app
# built the same way as the one under test. Requests then go to the test's own app.
schema = schemathesis.openapi.from_wsgi("/openapi.json", create_app({"TESTING": True}))


# Cases are partly built while tests are collected, before any user or token exists: they carry
# this placeholder, and each request swaps it for a fresh token (so that /logout revokes only its
# own). A deliberately missing or broken Authorization header is left as generated.
TOKEN_PLACEHOLDER = "Bearer token-of-the-test-user"


@schema.auth(refresh_interval=None)
class PlaceholderToken:
    def get(self, case: Any, context: Any) -> str:
        return TOKEN_PLACEHOLDER

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": data}


@pytest.fixture
def seeded(make_task: Callable[..., Task]) -> list[Task]:
    """A few tasks of the test user, each with a job and its records."""
    tasks = []
    for number in range(SEEDED_TASKS):
        task = make_task(name=f"seeded {number}")
        add_job(task, records=[{"id": number, "name": f"record {number}"}])
        tasks.append(task)
    create_webhook(tasks[0].owner_id, {"url": PUBLIC_URL, "events": ["task.exhausted"]})
    return tasks


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_every_operation_passes_the_default_checks(
    case: Any, app: Flask, user: User, seeded: list[Task]
) -> None:
    if case.headers and case.headers.get("Authorization") == TOKEN_PLACEHOLDER:
        case.headers["Authorization"] = f"Bearer {create_access_token(identity=str(user.id))}"
    app.config["MAX_WEBHOOKS_PER_USER"] = EXAMPLES_PER_OPERATION * 4  # every example may create one
    if case.meta is not None and case.meta.generation.mode.is_positive:
        follow_rules_the_spec_cannot_state(case, [task.id for task in seeded])
    elif case.operation.path == TASK_BATCH_PATH and (case.query or {}).get("mode") == "partial":
        # A partial batch answers invalid items with 200 by design; all-or-nothing refuses them.
        case.query["mode"] = "all"
    # The per-user task cap depends on what earlier examples created: room for every batch.
    app.config["MAX_TASKS_PER_USER"] = EXAMPLES_PER_OPERATION * app.config["MAX_BATCH"] * 2
    case.call_and_validate(app=app)


def follow_rules_the_spec_cannot_state(case: Any, own_task_ids: list[int]) -> None:
    """Keep a generated valid body valid under the rules OpenAPI 3.0 cannot express.

    The spec documents every field's type and bounds; these rules span fields or need more than
    a JSON Schema: If-Match must be the current ETag, the window's order, the host-safety check,
    header names (OpenAPI 3.0 has no propertyNames), JMESPath syntax, a body only with POST,
    datetimes Python can represent, an API key's expiry in the future, and a webhook's task ids
    naming the user's own tasks.
    """
    if case.headers and "If-Match" in case.headers:
        del case.headers["If-Match"]  # valid only when it is the task's current ETag
    if case.operation.path == API_KEYS_PATH and isinstance(case.body, dict):
        expires_at = _as_utc(case.body.get("expires_at"))
        if expires_at is None or expires_at <= datetime.now(UTC):
            case.body["expires_at"] = None
    if case.operation.path in WEBHOOK_BODY_PATHS and isinstance(case.body, dict):
        _keep_url_safe(case.body)
        if case.body.get("task_ids"):
            case.body["task_ids"] = own_task_ids
        return
    if case.operation.path == TASK_BATCH_PATH and isinstance(case.body, dict):
        for item in case.body.get("tasks") or []:
            if isinstance(item, dict):
                _keep_task_body_valid(item, patching=False)
        return
    if case.operation.path not in TASK_BODY_PATHS or not isinstance(case.body, dict):
        return
    _keep_task_body_valid(case.body, patching=case.method.upper() == "PATCH")


def _keep_task_body_valid(body: dict[str, Any], *, patching: bool) -> None:
    _keep_window_in_order(body, patching=patching)
    _keep_url_safe(body)
    if isinstance(body.get("parameters"), dict):
        _keep_parameters_meaningful(body["parameters"])


def _keep_url_safe(body: dict[str, Any]) -> None:
    if isinstance(body.get("url"), str):
        try:
            validate_task_url(body["url"])
        except InvalidInput:
            body["url"] = PUBLIC_URL


def _keep_window_in_order(body: dict[str, Any], *, patching: bool) -> None:
    for name in ("start_time", "end_time"):
        if body.get(name) is not None and _as_utc(body[name]) is None:
            body[name] = datetime.now(UTC).isoformat()
    if patching and "start_time" in body and "end_time" not in body:
        body["end_time"] = None  # the stored end might come before the new start
    if patching and body.get("end_time") is not None and "start_time" not in body:
        body["start_time"] = EARLIEST_START  # the stored start might come after the new end
    start = _as_utc(body.get("start_time")) or datetime.now(UTC)  # a new task starts now
    end = _as_utc(body.get("end_time"))
    if end is not None and end <= start:
        body["end_time"] = None


def _as_utc(value: Any) -> datetime | None:
    """The datetime, if Python can hold it in UTC (no leap second, nothing before year 1)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
        return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def _keep_parameters_meaningful(parameters: dict[str, Any]) -> None:
    headers = parameters.get("headers")
    if isinstance(headers, dict):
        parameters["headers"] = {
            name: value
            for name, value in headers.items()
            if HEADER_NAME.match(name) and name.lower() not in FORBIDDEN_HEADERS
        }
    if "records" in parameters:
        try:
            jmespath.compile(parameters["records"])
        except (JMESPathError, ValueError, TypeError):
            del parameters["records"]
    if "body" in parameters:
        parameters["method"] = "POST"
