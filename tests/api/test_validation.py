"""Every refusal of a task body: a clear JSON error with the right 4xx, naming what is wrong."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from website.extensions import db
from website.models import Task

ERROR_KEYS = {"code", "status", "message", "errors"}


def new_task(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "feed",
        "url": "https://example.com/feed.json",
        "task_interval": 60,
        **overrides,
    }


def assert_refused(response: Any, status: int, *path: str) -> None:
    """The response is a JSON error with ``status`` whose errors hold ``path`` (nested keys)."""
    assert response.status_code == status, response.json
    assert set(response.json) == ERROR_KEYS
    assert response.json["code"] == status
    errors = response.json["errors"]
    for key in path:
        assert key in errors, (key, response.json)
        errors = errors[key]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"url": "ftp://example.com/feed.json"}, "url"),
        ({"url": "https://"}, "url"),
        ({"url": "example.com/feed.json"}, "url"),
        ({"url": "https://user:secret@example.com/"}, "url"),
        ({"url": "https://example.com/" + "a" * 2048}, "url"),
        ({"url": 42}, "url"),
        ({"name": ""}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "nul\x00byte"}, "name"),
        ({"task_interval": 0}, "task_interval"),
        ({"task_interval": 365 * 24 * 3600 + 1}, "task_interval"),
        ({"task_interval": "100"}, "task_interval"),
        ({"task_interval": 1.5}, "task_interval"),
        ({"task_interval": True}, "task_interval"),
        ({"max_execution_time": -1}, "max_execution_time"),
        ({"max_execution_time": 301}, "max_execution_time"),
        ({"max_attempt": 0}, "max_attempt"),
        ({"max_attempt": 101}, "max_attempt"),
        ({"priority": -1}, "priority"),
        ({"priority": 10}, "priority"),
        ({"enabled": "maybe"}, "enabled"),
        ({"enabled": 0}, "enabled"),
        ({"enabled": "true"}, "enabled"),
        ({"start_time": "yesterday"}, "start_time"),
        ({"start_time": "2030-02-30T00:00:00Z"}, "start_time"),
        ({"start_time": "0001-01-01T00:00:00+01:00"}, "start_time"),
        ({"start_time": None}, "start_time"),
        ({"end_time": "2020-01-01T00:00:00Z"}, "end_time"),
    ],
)
def test_create_refuses_an_invalid_field_naming_it(
    client: FlaskClient, auth_headers: dict[str, str], overrides: dict[str, Any], field: str
) -> None:
    response = client.post("/tasks", json=new_task(**overrides), headers=auth_headers)

    assert_refused(response, 422, field)
    assert field in response.json["message"]


def test_end_time_must_come_after_start_time(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    moment = "2030-01-01T00:00:00Z"
    response = client.post(
        "/tasks", json=new_task(start_time=moment, end_time=moment), headers=auth_headers
    )

    assert_refused(response, 422, "end_time")


@pytest.mark.parametrize("field", ["name", "url"])
def test_create_names_each_missing_required_field(
    client: FlaskClient, auth_headers: dict[str, str], field: str
) -> None:
    body = new_task()
    del body[field]

    response = client.post("/tasks", json=body, headers=auth_headers)

    assert_refused(response, 422, field)


@pytest.mark.parametrize("field", ["id", "owner_id", "attempt", "state", "next_run_at", "color"])
def test_create_refuses_fields_a_client_may_not_set(
    client: FlaskClient, auth_headers: dict[str, str], field: str
) -> None:
    response = client.post("/tasks", json=new_task(**{field: 1}), headers=auth_headers)

    assert_refused(response, 422, field)
    assert db.session.query(Task).count() == 0


def test_several_invalid_fields_are_named_together(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post(
        "/tasks", json=new_task(max_attempt=0, priority=99, url="gopher://x"), headers=auth_headers
    )

    assert response.status_code == 422
    assert {"max_attempt", "priority", "url"} <= set(response.json["errors"])


def test_the_minimum_interval_comes_from_configuration(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    app.config["MIN_TASK_INTERVAL"] = 30

    refused = client.post("/tasks", json=new_task(task_interval=29), headers=auth_headers)
    accepted = client.post("/tasks", json=new_task(task_interval=30), headers=auth_headers)

    assert_refused(refused, 422, "task_interval")
    assert "30" in refused.json["errors"]["task_interval"][0]
    assert accepted.status_code == 201


def test_the_longest_execution_time_comes_from_configuration(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    app.config["MAX_EXECUTION_TIME"] = 20

    refused = client.post("/tasks", json=new_task(max_execution_time=21), headers=auth_headers)
    accepted = client.post("/tasks", json=new_task(max_execution_time=20), headers=auth_headers)

    assert_refused(refused, 422, "max_execution_time")
    assert accepted.status_code == 201


def test_a_user_cannot_own_more_tasks_than_the_configured_cap(
    app: Flask,
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_user: Callable[..., Any],
    make_task: Callable[..., Task],
) -> None:
    app.config["MAX_TASKS_PER_USER"] = 2
    make_task(owner=make_user("bob"))  # other users' tasks do not count
    assert client.post("/tasks", json=new_task(), headers=auth_headers).status_code == 201
    assert client.post("/tasks", json=new_task(), headers=auth_headers).status_code == 201

    response = client.post("/tasks", json=new_task(), headers=auth_headers)

    assert_refused(response, 422, "tasks")
    assert "at most 2" in response.json["message"]


def test_a_url_to_a_private_address_is_refused_unless_allowed(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    app.config["FETCH_ALLOW_PRIVATE"] = False

    response = client.post(
        "/tasks", json=new_task(url="http://127.0.0.1:8000/feed"), headers=auth_headers
    )

    assert_refused(response, 422, "url")


def test_a_host_that_does_not_resolve_here_is_accepted_at_creation(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    app.config["FETCH_ALLOW_PRIVATE"] = False

    response = client.post(
        "/tasks", json=new_task(url="https://no-such-host.invalid/feed"), headers=auth_headers
    )

    assert response.status_code == 201


# --- parameters ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parameters", "path"),
    [
        ({"timeout": 5}, ("timeout",)),
        ({"headers": {"Connection": "close"}}, ("headers", "Connection")),
        ({"headers": {"transfer-encoding": "chunked"}}, ("headers", "transfer-encoding")),
        ({"headers": {"Host": "internal.example"}}, ("headers", "Host")),
        ({"headers": {"Bad Name": "x"}}, ("headers", "Bad Name")),
        ({"headers": {"X-Split": "a\r\nInjected: yes"}}, ("headers",)),
        ({"headers": {"Host\n": "internal.example"}}, ("headers", "Host\n")),
        ({"headers": {"X-Trailing": "v\n"}}, ("headers", "X-Trailing")),
        ({"headers": {"Accept-Encoding": "br"}}, ("headers", "Accept-Encoding")),
        ({"headers": {"X-Number": 5}}, ("headers",)),
        ({"headers": ["Accept"]}, ("headers",)),
        ({"query": {"page": {"nested": 1}}}, ("query", "page")),
        ({"query": "page=2"}, ("query",)),
        ({"method": "DELETE"}, ("method",)),
        ({"body": {"a": 1}}, ("body",)),
        ({"method": "GET", "body": {"a": 1}}, ("body",)),
        ({"records": "items[?"}, ("records",)),
        ({"records": ""}, ("records",)),
        ({"record_key": ""}, ("record_key",)),
    ],
)
def test_parameters_refuses_anything_but_the_known_keys_and_shapes(
    client: FlaskClient, auth_headers: dict[str, str], parameters: Any, path: tuple[str, ...]
) -> None:
    response = client.post("/tasks", json=new_task(parameters=parameters), headers=auth_headers)

    assert_refused(response, 422, "parameters", *path)


@pytest.mark.parametrize("expression", ["!" * 999, "[" * 330])
def test_a_records_expression_nested_too_deeply_is_a_422_on_create_and_patch(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    expression: str,
) -> None:
    parameters = {"records": expression}
    created = client.post("/tasks", json=new_task(parameters=parameters), headers=auth_headers)
    task = make_task()
    patched = client.patch(
        f"/tasks/{task.id}", json={"parameters": parameters}, headers=auth_headers
    )

    for response in (created, patched):
        assert_refused(response, 422, "parameters", "records")
        assert response.json["errors"]["parameters"]["records"] == [
            "Not a valid JMESPath expression: nested too deeply."
        ]


@pytest.mark.parametrize("parameters", ["not json", "[1, 2]", "42", 42, ["query"]])
def test_parameters_must_be_an_object_or_the_json_string_of_one(
    client: FlaskClient, auth_headers: dict[str, str], parameters: Any
) -> None:
    response = client.post("/tasks", json=new_task(parameters=parameters), headers=auth_headers)

    assert_refused(response, 422, "parameters")


def test_a_json_string_of_parameters_is_checked_like_an_object(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    parameters = json.dumps({"headers": {"Upgrade": "websocket"}})

    response = client.post("/tasks", json=new_task(parameters=parameters), headers=auth_headers)

    assert_refused(response, 422, "parameters", "headers", "Upgrade")


# --- changes are checked like creations ----------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"url": "file:///etc/passwd"}, "url"),
        ({"task_interval": 0}, "task_interval"),
        ({"max_attempt": 1000}, "max_attempt"),
        ({"parameters": {"unknown": 1}}, "parameters"),
        ({"owner_id": 99}, "owner_id"),
        ({"attempt": 0}, "attempt"),
        ({"id": 7}, "id"),
    ],
)
def test_patch_refuses_what_create_refuses(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    changes: dict[str, Any],
    field: str,
) -> None:
    task = make_task()
    before = client.get(f"/tasks/{task.id}", headers=auth_headers).json

    response = client.patch(f"/tasks/{task.id}", json=changes, headers=auth_headers)

    assert_refused(response, 422, field)
    after = client.get(f"/tasks/{task.id}", headers=auth_headers).json
    assert {key: after[key] for key in ("url", "task_interval", "max_attempt", "owner_id")} == {
        key: before[key] for key in ("url", "task_interval", "max_attempt", "owner_id")
    }


# --- the body itself -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "feed",',
        b"{'name': 'feed'}",
        b"[" * 100_000,
        b'{"task_interval": ' + b"9" * 5000 + b"}",
        b"\xff\xfe",
    ],
    ids=["truncated", "single quotes", "deep nesting", "huge number", "not utf-8"],
)
def test_malformed_json_is_a_400_in_the_api_format(
    client: FlaskClient, auth_headers: dict[str, str], body: bytes
) -> None:
    response = client.post(
        "/tasks", data=body, content_type="application/json", headers=auth_headers
    )

    assert response.status_code == 400
    assert set(response.json) == ERROR_KEYS
    assert response.json["message"].startswith("Malformed JSON")


# Python's json reads these, but they are not JSON: PostgreSQL refuses them (a 500 before), and
# SQLite would store text that no JSON parser reads back. 1e999 is read as infinity.
NOT_JSON_NUMBERS = ["NaN", "Infinity", "-Infinity", "1e999"]


def send_raw(
    client: FlaskClient, method: str, path: str, body: str, headers: dict[str, str]
) -> Any:
    return client.open(
        path, method=method, data=body, content_type="application/json", headers=headers
    )


@pytest.mark.parametrize("number", NOT_JSON_NUMBERS)
@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("as_string", [False, True], ids=["object", "json string"])
def test_parameters_with_a_number_json_does_not_have_are_refused_and_nothing_changes(
    client: FlaskClient,
    auth_headers: dict[str, str],
    make_task: Callable[..., Task],
    method: str,
    as_string: bool,
    number: str,
) -> None:
    task = make_task(parameters={"query": {"ratio": 0.5}})
    before = client.get(f"/tasks/{task.id}", headers=auth_headers).json
    parameters = f'{{"query": {{"page": 1, "ratio": {number}}}}}'
    sent = json.dumps(parameters) if as_string else parameters
    if method == "POST":
        path, body = "/tasks", json.dumps(new_task())[:-1] + f', "parameters": {sent}}}'
    else:
        path, body = f"/tasks/{task.id}", f'{{"name": "renamed", "parameters": {sent}}}'

    response = send_raw(client, method, path, body, auth_headers)

    if as_string:  # the body is JSON, the string it holds is not
        assert_refused(response, 422, "parameters")
    else:  # the body holds a number JSON does not have: unprocessable
        assert_refused(response, 422)
        assert response.json["message"].startswith("Unprocessable JSON")
        assert number in response.json["message"]
    assert db.session.query(Task).count() == 1
    assert client.get(f"/tasks/{task.id}", headers=auth_headers).json == before


@pytest.mark.parametrize("number", ["1.5e308", "-2.5e-320", "123456789012345678901234567890"])
def test_parameters_keep_any_number_json_has(
    client: FlaskClient, auth_headers: dict[str, str], number: str
) -> None:
    body = json.dumps(new_task())[:-1] + f', "parameters": {{"query": {{"n": {number}}}}}}}'

    response = send_raw(client, "POST", "/tasks", body, auth_headers)

    assert response.status_code == 201, response.json
    shown = client.get(response.headers["Location"], headers=auth_headers).json
    assert shown["parameters"] == {"query": {"n": json.loads(number)}}


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", json.dumps(new_task())),
        ("application/x-www-form-urlencoded", "name=feed&task_interval=60"),
        ("application/xml", "<task/>"),
    ],
)
def test_a_body_that_is_not_json_is_a_415(
    client: FlaskClient, auth_headers: dict[str, str], content_type: str, body: str
) -> None:
    response = client.post("/tasks", data=body, content_type=content_type, headers=auth_headers)

    assert response.status_code == 415
    assert set(response.json) == ERROR_KEYS
    assert db.session.query(Task).count() == 0


def test_a_patch_body_that_is_not_json_is_a_415(
    client: FlaskClient, auth_headers: dict[str, str], make_task: Callable[..., Task]
) -> None:
    task = make_task()

    response = client.patch(
        f"/tasks/{task.id}", data="name=x", content_type="text/plain", headers=auth_headers
    )

    assert response.status_code == 415


def test_a_body_over_max_content_length_is_a_413(
    app: Flask, client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    too_big = app.config["MAX_CONTENT_LENGTH"] + 1
    body = json.dumps(new_task(name="x" * too_big))

    response = client.post(
        "/tasks", data=body, content_type="application/json", headers=auth_headers
    )

    assert response.status_code == 413
    assert set(response.json) == ERROR_KEYS


def test_a_json_body_that_is_not_an_object_is_a_422(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post("/tasks", json=[new_task()], headers=auth_headers)

    assert response.status_code == 422
    assert set(response.json) == ERROR_KEYS


def test_no_body_at_all_names_the_required_fields(
    client: FlaskClient, auth_headers: dict[str, str]
) -> None:
    response = client.post("/tasks", headers=auth_headers)

    assert_refused(response, 422, "name")
