"""What Swagger UI pre-fills: the spec's quick start and request examples that work as they are.

Without them Swagger UI makes examples up from the schemas ("string", values matching a regex),
which the API then refuses. The task example depends on this deployment (where the demo feed is
served, the shortest interval allowed), so it is written into the spec when the app starts.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from flask import Config

__all__ = ["DEMO_LOGIN", "QUICK_START", "document_examples", "example_task", "spec_options"]

DEMO_LOGIN = {"username": "demo", "password": "demo-password"}  # `challenge db seed`, development
DEMO_FEED_PATH = "/demo/events/amazingexpo2020.json"
# Where the demo feed's data came from (the original brief's example), for deployments without
# the demo feed (DEMO_FEED off, as in production).
PUBLIC_FEED_URL = (
    "https://s3-us-west-2.amazonaws.com/eb-python-challenge/php-architecture/amazingexpo2020.json"
)
EXAMPLE_INTERVAL = 10  # seconds: the example task's runs show within seconds

QUICK_START = """\
Scheduled fetching of JSON feeds: you register **tasks** (a URL, a window, an interval), the
service fetches each one on schedule and records every run (**jobs**) and the records it brought
back (**data**).

**Quick start, right here in Swagger UI**

1. **Authorize** (the button on the right): under *passwordLogin* enter your username and
   password (in development, after `challenge db seed`: `demo` / `demo-password`; or create an
   account with `POST /register` first). Pasting a token from `POST /login` or an API key
   (`chk_...`) under *bearerAuth* works too.
2. **`POST /tasks`** → *Try it out* → *Execute*: the pre-filled task fetches the demo feed now
   and every 10 seconds. Note the `id` of the answer.
3. **`GET /tasks/{task_id}/status`** (or `GET /tasks/{task_id}/jobs`) with that id: the last
   run's outcome and the records it fetched.

Every error is JSON: `{"code", "status", "message", "errors"}`. Users see only their own
objects; an admin adds `?all=1`.
"""


def spec_options() -> dict[str, Any]:
    """flask-smorest's API_SPEC_OPTIONS: the spec's description, shown atop Swagger UI."""
    return {"info": {"description": QUICK_START}}


def example_task(config: Config) -> dict[str, Any]:
    """A task that the API accepts and that runs now: no window, the demo feed if served here."""
    if config["DEMO_FEED"]:
        url = f"{config['DEMO_BASE_URL'].rstrip('/')}{DEMO_FEED_PATH}"
    else:
        url = PUBLIC_FEED_URL
    interval = max(EXAMPLE_INTERVAL, config["MIN_TASK_INTERVAL"])
    return {
        "name": f"amazingexpo every {interval}s",
        "url": url,
        "parameters": {},
        "task_interval": interval,
        "max_attempt": 3,
        "priority": 5,
    }


def _example_task_shown(task: dict[str, Any]) -> dict[str, Any]:
    """The task as the API answers after creating the example (its times are illustrative)."""
    created = "2026-12-07T09:00:00+00:00"
    return {
        "id": 1,
        "owner_id": 1,
        **task,
        "start_time": created,
        "end_time": None,
        "max_execution_time": 0,
        "retry_backoff": 1.0,
        "stale_after": None,
        "attempt": 0,
        "enabled": True,
        "state": "active",
        "next_run_at": created,
        "last_execute_time": None,
        "last_execution_status": None,
        "last_success_at": None,
        "created_at": created,
        "updated_at": created,
    }


def document_examples(spec: APISpec, config: Config) -> None:
    """Write this deployment's examples into the spec's schemas; call after registering them."""
    task = example_task(config)
    schemas = spec.components.schemas
    schemas["TaskCreate"]["example"] = task
    schemas["TaskUpdate"]["example"] = {"task_interval": task["task_interval"] * 3}
    schemas["Task"]["example"] = _example_task_shown(task)
    schemas["UserUpdate"]["example"] = {"is_active": True}
    schemas["Logout"]["example"] = {"all": False}
    schemas["TaskResetAttempts"]["example"] = {"state": "exhausted"}
    schemas["WebhookCreate"]["example"] = {
        "url": "https://hooks.example.com/challenge",
        "events": ["task.exhausted", "task.recovered"],
    }
    schemas["WebhookUpdate"]["example"] = {"events": ["task.exhausted"], "active": True}
    schemas["TaskBatch"]["example"] = {"tasks": [task, {**task, "name": f"{task['name']} (2)"}]}
