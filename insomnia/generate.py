"""Write insomnia/challenge.json, an Insomnia v4 export of every operation of the API's spec.

Run ``python insomnia/generate.py`` after changing the API; tests/ship/test_insomnia.py fails while
the collection and the spec disagree. The spec comes from the app itself (``create_app``), so no
server has to run.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

__all__ = [
    "EXAMPLE_BODIES",
    "EXAMPLE_FORMS",
    "NEWCOMER_SESSION",
    "build_export",
    "live_spec",
    "main",
    "request_id",
]

OUTPUT = Path(__file__).resolve().with_name("challenge.json")
WORKSPACE_ID = "wrk_challenge"
ENVIRONMENT_ID = "env_challenge_base"
BASE_URL = "http://127.0.0.1:8000"
ACCESS_TOKEN_MAX_AGE_SECONDS = 14 * 60  # log in again just before a 15-minute token expires
HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# A task that runs: no window (it starts now and never ends), every 10 s, against the demo feed
# of the server the collection talks to (`challenge run` serves it in development).
EXAMPLE_TASK = {
    "name": "amazingexpo every 10s",
    "url": "{{ _.base_url }}/demo/events/amazingexpo2020.json",
    "parameters": {},
    "task_interval": 10,
    "max_attempt": 3,
}
# The demo account that `challenge db seed` creates in development: the collection's session.
DEMO_CREDENTIALS = {"username": "demo", "password": "demo-password"}
# "Register" makes a new account on every run (Insomnia's built-in timestamp tag): no 409 the
# second time. "Log in (form)" logs that account in, and the requests that end sessions ("Log
# out", "Change your password") act on its session, never on the demo session everything else uses.
NEWCOMER_PASSWORD = "correct horse battery staple"  # noqa: S105  (an example, on purpose)
EXAMPLE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/register"): {
        "username": "newcomer-{% now 'millis', '' %}",
        "password": NEWCOMER_PASSWORD,
    },
    ("POST", "/login"): DEMO_CREDENTIALS,
    # true ends every session of the account (every access and refresh token), on every device.
    ("POST", "/logout"): {"all": False},
    ("POST", "/tasks"): EXAMPLE_TASK,
    # Each item is a POST /tasks body; ?mode=partial stores the valid ones and reports the rest.
    ("POST", "/tasks/batch"): {
        "tasks": [
            EXAMPLE_TASK,
            {
                "name": "summit every minute",
                "url": "https://example.com/ceosummersummit2020.json",
                "task_interval": 60,
                "priority": 7,
            },
        ]
    },
    ("PATCH", "/tasks/{task_id}"): {"task_interval": 300, "max_attempt": 5},
    # Or {"ids": [1, 2]}: exactly one of the two.
    ("POST", "/tasks/reset-attempt"): {"state": "exhausted"},
    ("PATCH", "/users/{user_id}"): {"role": "user", "is_active": True},
    # The same password again: the request can be sent any number of times (sessions still end).
    ("POST", "/users/me/password"): {
        "current_password": NEWCOMER_PASSWORD,
        "new_password": NEWCOMER_PASSWORD,
    },
    ("POST", "/users/{user_id}/password"): {"password": "a passphrase the admin chose"},
    ("POST", "/users/me/api-keys"): {"name": "cron job", "expires_at": None},
    ("POST", "/webhooks"): {
        "url": "https://hooks.example.com/challenge",
        "events": ["task.exhausted", "task.recovered", "task.stale", "data.changed"],
        "task_ids": None,
        "description": "Alerts to the on-call channel",
    },
    ("PATCH", "/webhooks/{webhook_id}"): {"events": ["task.exhausted"], "active": True},
}
# Form bodies (application/x-www-form-urlencoded), by operation.
EXAMPLE_FORMS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/token"): {
        "grant_type": "password",
        "username": "{{ _.newcomer_username }}",
        "password": NEWCOMER_PASSWORD,
    },
}
# Requests acting on the newcomer's session (a fresh token from "Log in (form)" each time).
NEWCOMER_SESSION = {("POST", "/logout"), ("POST", "/users/me/password")}
# Placeholders for a body the table above does not cover yet, by JSON Schema type.
PLACEHOLDERS = {"string": "", "integer": 0, "number": 0, "boolean": False, "object": {}}

# Sample values of the path variables, kept in the environment.
PATH_VARIABLES = {"task_id": 1, "job_id": 1, "user_id": 2, "webhook_id": 1}
API_KEYS_PATH = "/users/me/api-keys"


def request_id(method: str, path: str) -> str:
    """A stable id, e.g. ``req_post_tasks_task_id_run`` (other resources refer to it)."""
    slug = re.sub(r"[^a-z0-9]+", "_", path.lower()).strip("_")
    return f"req_{method.lower()}_{slug}"


def response_tag(source: str, json_path: str, trigger: str, max_age: int | None = None) -> str:
    """Insomnia's "response" template tag: a value taken from another request's response body."""
    encoded = base64.b64encode(json_path.encode()).decode()
    arguments = ["'body'", f"'{source}'", f"'b64::{encoded}::46b'", f"'{trigger}'"]
    if max_age is not None:
        arguments.append(str(max_age))
    return "{% response " + ", ".join(arguments) + " %}"


def _environment() -> dict[str, Any]:
    login = request_id("POST", "/login")
    data: dict[str, Any] = {
        "base_url": BASE_URL,
        # Taken from the "Log in" request's answer, which Insomnia sends again when it is stale.
        "access_token": response_tag(
            login, "$.access_token", "when-expired", ACCESS_TOKEN_MAX_AGE_SECONDS
        ),
        "refresh_token": response_tag(login, "$.refresh_token", "no-history"),
        # The account "Register" made last, and a fresh token of its own for every request that
        # ends sessions: the demo session above is never revoked by running the collection.
        "newcomer_username": response_tag(
            request_id("POST", "/register"), "$.username", "no-history"
        ),
        "newcomer_token": response_tag(request_id("POST", "/token"), "$.access_token", "always"),
        **PATH_VARIABLES,
        # A key made just before it is deleted, so that "Delete an API key" always has one.
        "key_id": response_tag(request_id("POST", API_KEYS_PATH), "$.id", "always"),
    }
    return {
        "_id": ENVIRONMENT_ID,
        "_type": "environment",
        "parentId": WORKSPACE_ID,
        "name": "Base Environment",
        "data": data,
        "dataPropertyOrder": {"&": list(data)},
        "color": None,
        "isPrivate": False,
        "metaSortKey": 0,
    }


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = spec["components"]["schemas"][name]
    return schema


def _example_body(spec: dict[str, Any], method: str, path: str, operation: dict[str, Any]) -> Any:
    if (method, path) in EXAMPLE_BODIES:
        return EXAMPLE_BODIES[(method, path)]
    schema = _resolve(spec, operation["requestBody"]["content"]["application/json"]["schema"])
    properties = schema.get("properties", {})
    return {
        name: PLACEHOLDERS.get(_resolve(spec, properties[name]).get("type", "string"), "")
        for name in schema.get("required", [])
    }


def _authentication(method: str, path: str, operation: dict[str, Any]) -> dict[str, Any]:
    if not any("bearerAuth" in requirement for requirement in operation.get("security", [])):
        return {}
    variable = "refresh_token" if path == "/refresh" else "access_token"
    if (method, path) in NEWCOMER_SESSION:
        variable = "newcomer_token"
    return {"type": "bearer", "token": f"{{{{ _.{variable} }}}}"}


def _query_parameters(operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's query parameters, present but switched off, to be ticked as needed."""
    parameters = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] == "query":
            schema = parameter.get("schema", {})
            value = schema.get("default", schema.get("enum", [""])[0])
            parameters.append(
                {
                    "name": parameter["name"],
                    "value": str(value).lower() if isinstance(value, bool) else str(value),
                    "description": parameter.get("description", ""),
                    "disabled": True,
                }
            )
    return parameters


def _request(
    spec: dict[str, Any], method: str, path: str, operation: dict[str, Any], order: int
) -> dict[str, Any]:
    url = "{{ _.base_url }}" + re.sub(r"\{(\w+)\}", r"{{ _.\1 }}", path)
    headers: list[dict[str, str]] = []
    body: dict[str, Any] = {}
    if (method, path) in EXAMPLE_FORMS:
        form = "application/x-www-form-urlencoded"
        headers.append({"name": "Content-Type", "value": form})
        params = [
            {"name": name, "value": value} for name, value in EXAMPLE_FORMS[method, path].items()
        ]
        body = {"mimeType": form, "params": params}
    elif "requestBody" in operation:
        headers.append({"name": "Content-Type", "value": "application/json"})
        text = json.dumps(_example_body(spec, method, path, operation), indent=2)
        body = {"mimeType": "application/json", "text": text}
    return {
        "_id": request_id(method, path),
        "_type": "request",
        "parentId": f"fld_{operation['tags'][0]}",
        "name": operation.get("summary", f"{method} {path}").rstrip("."),
        "description": operation.get("description", ""),
        "method": method,
        "url": url,
        "body": body,
        "parameters": _query_parameters(operation),
        "headers": headers,
        "authentication": _authentication(method, path, operation),
        "metaSortKey": order,
        "isPrivate": False,
        "settingStoreCookies": True,
        "settingSendCookies": True,
        "settingDisableRenderRequestBody": False,
        "settingEncodeUrl": True,
        "settingRebuildPath": True,
        "settingFollowRedirects": "global",
    }


def build_export(spec: dict[str, Any]) -> dict[str, Any]:
    """The Insomnia v4 export: workspace, base environment, a folder per tag, a request per op."""
    resources: list[dict[str, Any]] = [
        {
            "_id": WORKSPACE_ID,
            "_type": "workspace",
            "parentId": None,
            "name": spec["info"]["title"],
            "description": "Every operation of the challenge API, runnable top to bottom. It "
            "uses the demo login of `challenge db seed` (demo / demo-password); requests that "
            "end sessions act on an account Register makes. Admin requests need an admin login "
            "(`challenge users create NAME --admin`) in the Log in body.",
            "scope": "collection",
        },
        _environment(),
    ]
    for order, tag in enumerate(spec.get("tags", [])):
        resources.append(
            {
                "_id": f"fld_{tag['name']}",
                "_type": "request_group",
                "parentId": WORKSPACE_ID,
                "name": tag["name"].capitalize(),
                "description": tag.get("description", ""),
                "environment": {},
                "environmentPropertyOrder": None,
                "metaSortKey": order,
            }
        )
    order = 0
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                resources.append(_request(spec, method.upper(), path, item[method], order))
                order += 1
    return {
        "_type": "export",
        "__export_format": 4,
        "__export_source": "challenge insomnia/generate.py",
        "resources": resources,
    }


def live_spec() -> dict[str, Any]:
    """The OpenAPI spec of the app, built in a throwaway instance folder."""
    with tempfile.TemporaryDirectory() as instance:
        os.environ["INSTANCE_PATH"] = instance
        from website import create_app

        app = create_app({"TESTING": True})
        spec: dict[str, Any] = app.test_client().get("/openapi.json").get_json()
    return spec


def main() -> None:
    OUTPUT.write_text(json.dumps(build_export(live_spec()), indent=2) + "\n")
    print(f"wrote {OUTPUT}", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the project
    main()
