"""``challenge tasks import`` and ``export``: files of task bodies, a run report, a round trip."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, func, select

from cli import main
from tests.support.examples import ORIGINAL_EXAMPLE_TASK
from tests.support.http_server import LocalHTTPServer, Reply
from tests.support.processes import CeleryProcesses
from website.extensions import db
from website.models import Job, Task, User
from website.schemas.task_batches import export_task


def body(number: int, **overrides: Any) -> dict[str, Any]:
    return {
        "name": f"feed {number}",
        "url": f"https://example.com/feed/{number}.json",
        "task_interval": 60,
        **overrides,
    }


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    )
    return path


def task_names(owner: User) -> list[str]:
    db.session.rollback()
    return list(
        db.session.scalars(select(Task.name).where(Task.owner_id == owner.id).order_by(Task.id))
    )


def exported(owner: User) -> list[dict[str, Any]]:
    db.session.rollback()
    tasks = db.session.scalars(select(Task).where(Task.owner_id == owner.id).order_by(Task.id))
    return [export_task(task) for task in tasks]


def test_import_of_json_lines_creates_every_task(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = write_jsonl(tmp_path / "tasks.jsonl", [body(0), "", body(1), ORIGINAL_EXAMPLE_TASK])

    result = runner.invoke(main, ["tasks", "import", str(file)])

    assert result.exit_code == 0, result.output
    assert "Imported 3 of 3 tasks for alice." in result.output
    assert task_names(user) == ["feed 0", "feed 1", "task1"]


def test_import_of_a_json_array_creates_every_task(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = tmp_path / "tasks.json"
    file.write_text(json.dumps([body(0), body(1, priority=9)], indent=2))

    result = runner.invoke(main, ["tasks", "import", str(file), "--user", "alice"])

    assert result.exit_code == 0, result.output
    assert task_names(user) == ["feed 0", "feed 1"]


def test_bad_lines_are_reported_by_line_number_and_nothing_is_imported(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = write_jsonl(
        tmp_path / "tasks.jsonl",
        [body(0), "{not json", body(2), body(3, url="ftp://example.com/x"), "", body(5)],
    )

    result = runner.invoke(main, ["tasks", "import", str(file)])

    assert result.exit_code == 1
    assert "line 2: _json: Malformed JSON" in result.output
    assert "line 4: url: Must be an http(s) URL with a host." in result.output
    assert "Nothing imported: 2 of 5 tasks are invalid." in result.output
    assert task_names(user) == []


def test_bad_items_of_an_array_are_reported_by_index(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = tmp_path / "tasks.json"
    file.write_text(json.dumps([body(0), body(1, task_interval=0), "feed"]))

    result = runner.invoke(main, ["tasks", "import", str(file)])

    assert result.exit_code == 1
    assert "item 1: task_interval:" in result.output
    assert "item 2: _schema: Invalid input type." in result.output
    assert task_names(user) == []


def test_a_file_that_is_not_json_at_all_is_refused(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = tmp_path / "tasks.json"
    file.write_text('[{"name": "x",')

    result = runner.invoke(main, ["tasks", "import", str(file)])

    assert result.exit_code == 1
    assert "not a valid JSON array" in result.output
    assert task_names(user) == []


def test_partial_mode_imports_the_valid_lines_and_reports_the_others(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = write_jsonl(tmp_path / "tasks.jsonl", [body(0), body(1, name=""), "[1", body(3)])

    result = runner.invoke(main, ["tasks", "import", str(file), "--mode", "partial"])

    assert result.exit_code == 1  # not everything was imported
    assert "line 2: name:" in result.output
    assert "line 3: _json: Malformed JSON" in result.output
    assert "Imported 2 of 4 tasks for alice." in result.output
    assert task_names(user) == ["feed 0", "feed 3"]


def test_a_file_larger_than_one_batch_is_imported_whole_or_not_at_all(
    app: Flask, runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    app.config["MAX_BATCH"] = 3
    bodies = [body(number) for number in range(8)]
    bad = write_jsonl(tmp_path / "bad.jsonl", [*bodies, body(8, max_attempt=0)])
    good = write_jsonl(tmp_path / "good.jsonl", bodies)

    refused = runner.invoke(main, ["tasks", "import", str(bad)])
    assert refused.exit_code == 1
    assert "line 9: max_attempt:" in refused.output
    assert task_names(user) == []

    imported = runner.invoke(main, ["tasks", "import", str(good)])
    assert imported.exit_code == 0, imported.output
    assert task_names(user) == [f"feed {number}" for number in range(8)]


def test_a_file_that_would_cross_the_task_cap_is_refused_whole(
    app: Flask, runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    app.config["MAX_TASKS_PER_USER"] = 3
    file = write_jsonl(tmp_path / "tasks.jsonl", [body(number) for number in range(4)])

    for mode in ("all", "partial"):
        result = runner.invoke(main, ["tasks", "import", str(file), "--mode", mode])
        assert result.exit_code == 1
        assert "at most 3 tasks per user" in result.output
    assert task_names(user) == []


def test_the_owner_must_be_named_when_there_are_several_users(
    runner: FlaskCliRunner, user: User, make_user: Callable[..., User], tmp_path: Path
) -> None:
    bob = make_user("bob")
    file = write_jsonl(tmp_path / "tasks.jsonl", [body(0)])

    unnamed = runner.invoke(main, ["tasks", "import", str(file)])
    unknown = runner.invoke(main, ["tasks", "import", str(file), "--user", "carol"])
    named = runner.invoke(main, ["tasks", "import", str(file), "--user", "bob"])

    assert unnamed.exit_code == 2
    assert "there are 2 users: name the tasks' owner with --user" in unnamed.output
    assert unknown.exit_code == 1
    assert "no user named 'carol'" in unknown.output
    assert named.exit_code == 0, named.output
    assert (task_names(user), task_names(bob)) == ([], ["feed 0"])


def test_a_large_file_shows_a_progress_bar(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = write_jsonl(tmp_path / "tasks.jsonl", [body(number) for number in range(150)])

    result = runner.invoke(main, ["tasks", "import", str(file)])

    assert result.exit_code == 0, result.output
    assert "Checking tasks" in result.output
    assert len(task_names(user)) == 150


@pytest.mark.parametrize("file_format", ["jsonl", "json"])
def test_export_then_import_reproduces_every_tasks_settings(
    runner: FlaskCliRunner,
    user: User,
    make_task: Callable[..., Task],
    tmp_path: Path,
    file_format: str,
) -> None:
    start = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    make_task(name="plain")
    make_task(
        name="everything set",
        url="https://example.com/events?kind=expo",
        parameters={
            "method": "POST",
            "body": {"filter": {"year": 2020}, "limit": 10.5},
            "query": {"page": 2, "tag": ["a", "b"]},
            "headers": {"Accept": "application/json"},
            "records": "data.items",
            "record_key": "uid",
        },
        start_time=start,
        end_time=start + timedelta(days=7),
        task_interval=900,
        max_execution_time=45,
        max_attempt=7,
        priority=9,
        enabled=False,
    )
    make_task(name="ünïcode ✓", priority=0)
    before = exported(user)
    file = tmp_path / f"tasks.{file_format}"

    export = runner.invoke(main, ["tasks", "export", "--format", file_format, str(file)])
    assert export.exit_code == 0, export.output
    db.session.execute(delete(Task))  # a fresh start: no task left
    db.session.commit()
    imported = runner.invoke(main, ["tasks", "import", str(file)])

    assert imported.exit_code == 0, imported.output
    assert exported(user) == before
    assert set(before[1]) >= {"name", "url", "parameters", "start_time", "end_time", "enabled"}


def test_export_writes_json_lines_to_standard_output_by_default(
    runner: FlaskCliRunner, make_task: Callable[..., Task]
) -> None:
    make_task(name="one")
    make_task(name="two")

    result = runner.invoke(main, ["tasks", "export"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [json.loads(line)["name"] for line in lines] == ["one", "two"]


def test_run_once_with_a_timeout_names_the_runs_that_did_not_finish(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = write_jsonl(tmp_path / "tasks.jsonl", [body(0)])

    # No worker: the run stays queued.
    result = runner.invoke(
        main, ["tasks", "import", str(file), "--run-once", "--wait", "--timeout", "0.5"]
    )

    assert result.exit_code == 1
    assert "0 succeeded, 0 failed" in result.output
    assert "1 unfinished" in result.output
    assert "Not finished within 0.5 s:" in result.output
    assert "'feed 0': queued" in result.output


def test_run_once_without_wait_queues_one_run_of_each_task(
    runner: FlaskCliRunner, user: User, tmp_path: Path
) -> None:
    file = write_jsonl(tmp_path / "tasks.jsonl", [body(0), body(1)])

    result = runner.invoke(main, ["tasks", "import", str(file), "--run-once"])

    assert result.exit_code == 0, result.output
    db.session.rollback()
    jobs = db.session.scalars(select(Job).order_by(Job.id)).all()
    assert [(job.trigger, job.status) for job in jobs] == [("manual", "queued")] * 2
    assert f"Queued 2 runs (jobs {jobs[0].id}..{jobs[1].id})." in result.output


def test_wait_needs_run_once(runner: FlaskCliRunner, user: User, tmp_path: Path) -> None:
    file = write_jsonl(tmp_path / "tasks.jsonl", [body(0)])

    result = runner.invoke(main, ["tasks", "import", str(file), "--wait"])

    assert result.exit_code == 2
    assert task_names(user) == []


def serve_feeds(http_server: LocalHTTPServer) -> list[dict[str, Any]]:
    """Three feeds that answer, one that fails with a 500, one too slow for its deadline."""
    for number in range(3):
        http_server.json(f"/ok/{number}", [{"id": number}])
    http_server.json("/broken", {"error": "down"}, status=500)
    http_server.route("/slow", lambda _request: Reply(200, b"[]", delay=4))
    return [
        *(body(number, url=http_server.url(f"/ok/{number}")) for number in range(3)),
        body(3, name="broken", url=http_server.url("/broken"), max_attempt=1),
        body(4, name="slow", url=http_server.url("/slow"), max_execution_time=1, max_attempt=1),
    ]


def test_run_once_and_wait_reports_every_run_of_a_real_worker(
    runner: FlaskCliRunner,
    user: User,
    tmp_path: Path,
    http_server: LocalHTTPServer,
    celery_processes: CeleryProcesses,
) -> None:
    file = write_jsonl(tmp_path / "tasks.jsonl", serve_feeds(http_server))
    celery_processes.worker(concurrency=4)

    result = runner.invoke(
        main, ["tasks", "import", str(file), "--run-once", "--wait", "--timeout", "120"]
    )

    assert result.exit_code == 1, result.output + celery_processes.logs()
    assert "Imported 5 of 5 tasks" in result.output
    assert (
        "Ran 5 tasks once: 3 succeeded, 2 failed "
        "(failed 1, timed_out 1, lost 0, cancelled 0), 0 unfinished." in result.output
    )
    assert "execution time mean" in result.output
    slowest = result.output.split("Slowest:\n", 1)[1].splitlines()
    assert len(slowest) == 5
    assert "'slow': timed_out" in slowest[0]
    assert "'broken': failed (HTTP 500" in result.output
    assert len(http_server.requests_to("/ok/0")) == 1


def test_run_once_and_wait_as_json_exits_0_when_every_run_succeeded(
    runner: FlaskCliRunner,
    user: User,
    tmp_path: Path,
    http_server: LocalHTTPServer,
    celery_processes: CeleryProcesses,
) -> None:
    file = write_jsonl(tmp_path / "tasks.jsonl", serve_feeds(http_server)[:3])
    celery_processes.worker(concurrency=4)

    result = runner.invoke(
        main,
        ["tasks", "import", str(file), "--run-once", "--wait", "--timeout", "120", "--json"],
    )

    assert result.exit_code == 0, result.output + celery_processes.logs()
    report = json.loads(result.stdout)
    assert report["imported"] == 3
    assert report["refused"] == []
    run = report["run"]
    assert (run["total"], run["succeeded"], run["failed"]) == (3, 3, 0)
    assert run["by_status"] == {"failed": 0, "timed_out": 0, "lost": 0, "cancelled": 0}
    assert run["unfinished"] == []
    assert run["wall_time"] > 0
    assert run["mean_time"] is not None
    assert run["p95_time"] >= run["mean_time"]
    assert [outcome["status"] for outcome in run["slowest"]] == ["succeeded"] * 3
    db.session.rollback()
    assert db.session.scalar(select(func.count(Job.id))) == 3
