"""Logs: one JSON object per line from web, worker and beat, with the ids that explain them."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from tests.conftest import free_port, headers_for
from tests.ship.processes import (
    celery_command,
    gunicorn_command,
    running,
    wait_for_http,
    wait_until,
)
from website.log import ContextFilter, JsonFormatter, TextFormatter
from website.models import Task, User

STARTUP_TIMEOUT_SECONDS = 60.0
JSON_LOGS = {"LOG_FORMAT": "json", "LOG_LEVEL": "INFO"}
# Celery prints this notice itself, on stdout, from its signal handler; it is logged as JSON too.
CELERY_SHUTDOWN_NOTICE = re.compile(r"worker: (Warm|Cold) shutdown \(MainProcess\)")


def parsed(lines: list[str]) -> list[dict[str, Any]]:
    """Every line as JSON; a line that is not one JSON object fails the test."""
    entries = []
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        entries.append(entry)
    return entries


def test_a_json_line_carries_the_ids_given_with_extra_and_the_exception() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("tests.ship.json")
    logger.addHandler(handler)
    try:
        logger.warning("job %s failed", 7, extra={"task_id": 3, "job_id": 7, "user_id": 2})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("unexpected", extra={"job_id": 8})
    finally:
        logger.removeHandler(handler)

    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "job 7 failed"
    assert first["level"] == "WARNING"
    assert (first["task_id"], first["job_id"], first["user_id"]) == (3, 7, 2)
    assert second["job_id"] == 8
    assert "ValueError: boom" in second["exception"]


def test_a_text_line_ends_with_the_ids_it_carries() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(TextFormatter())
    logger = logging.getLogger("tests.ship.text")
    logger.addHandler(handler)
    try:
        logger.warning("job failed", extra={"task_id": 3, "job_id": 7})
        logger.warning("nothing to add")
    finally:
        logger.removeHandler(handler)

    first, second = stream.getvalue().splitlines()
    assert first.endswith("WARNING tests.ship.text: job failed [task_id=3 job_id=7]")
    assert second.endswith("WARNING tests.ship.text: nothing to add")


def test_records_logged_while_serving_a_request_carry_its_request_and_user_ids(
    client: FlaskClient, user: User
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("website")
    logger.addHandler(handler)
    previous_level = logger.level
    logger.setLevel(logging.INFO)
    try:
        # Logging out logs the revocation while the request is being served.
        response = client.post("/logout", headers={**headers_for(user), "X-Request-ID": "trace-42"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous_level)

    assert response.status_code in {200, 204}
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entries
    assert all(entry["request_id"] == "trace-42" for entry in entries)
    assert all(entry["user_id"] == user.id for entry in entries)


@pytest.mark.parametrize(
    ("offered", "echoed"),
    [("abc-123_x.y", "abc-123_x.y"), ("two words", None), ("x" * 65, None), (None, None)],
)
def test_a_request_id_is_echoed_when_plain_and_made_up_otherwise(
    client: FlaskClient, offered: str | None, echoed: str | None
) -> None:
    headers = {"X-Request-ID": offered} if offered is not None else {}
    answered = client.get("/healthz", headers=headers).headers["X-Request-ID"]
    if echoed is not None:
        assert answered == echoed
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", answered)


@pytest.mark.slow
def test_gunicorn_writes_json_lines_and_access_lines_name_the_request_and_user(
    app: object, user: User, tmp_path: Path
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(gunicorn_command(port), tmp_path / "web", JSON_LOGS) as web:
        wait_for_http(f"{base}/healthz", web, STARTUP_TIMEOUT_SECONDS)
        response = httpx.get(f"{base}/users/me", headers=headers_for(user), timeout=10)
        assert response.status_code == 200
        request_id = response.headers["X-Request-ID"]

        def access_line_written() -> bool:
            return any("/users/me" in line for line in web.lines("stdout"))

        wait_until(access_line_written, 30, "the access log line")

    own, access = parsed(web.lines("stderr")), parsed(web.lines("stdout"))
    assert any(entry["logger"] == "gunicorn.error" for entry in own)
    (line,) = [entry for entry in access if entry.get("path") == "/users/me"]
    assert line["status"] == 200
    assert line["method"] == "GET"
    assert line["request_id"] == request_id
    assert line["user_id"] == user.id


@pytest.mark.slow
def test_worker_and_beat_write_json_lines_and_task_lines_name_the_celery_task(
    make_task: Callable[..., Task], http_server: Any, tmp_path: Path
) -> None:
    http_server.json("/feed", [{"n": 1}])
    make_task(url=http_server.url("/feed"), task_interval=3600)
    environment = {**JSON_LOGS, "SCHEDULER_TICK_SECONDS": "0.5"}
    worker_options = ("--pool", "threads", "--concurrency", "2", "--hostname", "ship-log@%h")
    beat_options = ("--schedule", str(tmp_path / "beat-schedule"))
    with (
        running(
            celery_command("worker", *worker_options), tmp_path / "worker", environment
        ) as worker,
        running(celery_command("beat", *beat_options), tmp_path / "beat", environment) as beat,
    ):

        def the_job_ran() -> bool:
            worker.assert_alive()
            beat.assert_alive()
            return any("run_job" in line and "succeeded" in line for line in worker.lines())

        wait_until(the_job_ran, STARTUP_TIMEOUT_SECONDS, "the worker to run the task's job")

    worker_stdout = [
        line for line in worker.lines("stdout") if not CELERY_SHUTDOWN_NOTICE.match(line)
    ]
    worker_entries = parsed(worker.lines()) + parsed(worker_stdout)
    beat_entries = parsed(beat.lines()) + parsed(beat.lines("stdout"))
    assert any(entry.get("celery_task_id") for entry in worker_entries)
    assert any("warm shutdown" in entry["message"] for entry in worker_entries)
    assert any("beat: Starting" in entry["message"] for entry in beat_entries)
    # The ticks ran (one dispatched the job) and said so once, at INFO; Celery's lines about
    # each tick (sent, received, succeeded) are DEBUG lines, left out at LOG_LEVEL=INFO.
    ticks = [entry for entry in worker_entries if entry["logger"] == "website.services.scheduler"]
    assert [(entry["level"], entry["message"]) for entry in ticks] == [
        ("INFO", "tick: 1 dispatched")
    ]
    about_ticks = [
        entry
        for entry in worker_entries + beat_entries
        if "scheduler.tick" in entry["message"] or "scheduler-tick" in entry["message"]
    ]
    assert about_ticks == []


def celery_lines_about(task_name: str, level: str) -> list[str]:
    """What Celery's own loggers write about one run of ``task_name`` through our handler."""
    from celery.app.trace import LOG_RECEIVED, LOG_SUCCESS, info

    from celery_app.signals import CeleryTaskFilter, RoutineTaskFilter
    from website.log import configure_logging

    stream = io.StringIO()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging(level, "json", CeleryTaskFilter(), RoutineTaskFilter())
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        context = {"id": "c0ffee", "name": task_name, "args": "()", "kwargs": "{}"}
        info(LOG_RECEIVED, context)
        info(LOG_SUCCESS, {**context, "runtime": 0.001, "return_value": None})
        logging.getLogger("celery.beat").info(
            "Scheduler: Sending due task %s (%s)", task_name.replace(".", "-"), task_name
        )
    finally:
        root.handlers, root.level = saved_handlers, saved_level
    return [json.loads(line)["level"] for line in stream.getvalue().splitlines()]


def test_celerys_lines_about_a_tick_are_debug_lines() -> None:
    assert celery_lines_about("scheduler.tick", "INFO") == []
    assert celery_lines_about("scheduler.tick", "DEBUG") == ["DEBUG", "DEBUG", "DEBUG"]
    assert celery_lines_about("fetch.run_job", "INFO") == ["INFO", "INFO", "INFO"]


def test_a_task_urls_query_string_never_reaches_the_logs(
    capfd: pytest.CaptureFixture[str], http_server: Any
) -> None:
    from website.log import configure_logging

    http_server.json("/feed", [])
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    configure_logging("INFO", "json")
    try:
        httpx.get(http_server.url("/feed?api_key=s3cret-value"), timeout=10)
        logging.getLogger("tests.ship.json").info("a line that is logged")
    finally:
        root.handlers, root.level = saved_handlers, saved_level
        logging.getLogger("httpx").setLevel(logging.NOTSET)
    err = capfd.readouterr().err
    assert "a line that is logged" in err
    assert "s3cret-value" not in err
