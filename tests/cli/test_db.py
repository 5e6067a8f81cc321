"""``challenge db``: init, seed and reset, through the real console script's commands."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cli import main
from tests.support.empty_database import app_on_empty_database
from website.extensions import db
from website.models import Data, Job, JobStatus, Task, User
from website.services import database_admin
from website.services.demo_feed import DEMO_FEEDS
from website.services.passwords import verify_password
from website.services.seed import DEMO_TASKS, DEMO_USERNAME, DEVELOPMENT_DEMO_PASSWORD


@pytest.fixture
def empty_database_app(test_environment: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    with app_on_empty_database(test_environment["DATABASE_URL"], tmp_path) as app:
        yield app


def invoke(app: Flask, *args: str, input: str | None = None) -> Result:
    """Run ``challenge <args>`` against ``app``."""
    return app.test_cli_runner().invoke(main, list(args), input=input)


def count(model: type[object]) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def demo_tasks() -> list[Task]:
    demo = select(User.id).where(User.username == DEMO_USERNAME).scalar_subquery()
    return list(db.session.scalars(select(Task).where(Task.owner_id == demo).order_by(Task.id)))


def test_db_init_creates_the_schema_and_running_it_again_keeps_the_data(
    empty_database_app: Flask, make_user: Callable[..., User]
) -> None:
    first = invoke(empty_database_app, "db", "init")
    assert first.exit_code == 0, first.output
    assert "latest schema" in first.output
    make_user("alice")

    second = invoke(empty_database_app, "db", "init")

    assert second.exit_code == 0, second.output
    assert not database_admin.database_is_new()
    assert count(User) == 1


def test_db_init_is_reachable_through_flask_too(tmp_path: Path, project_root: Path) -> None:
    environment = {
        "PATH": "/usr/bin:/bin",
        "INSTANCE_PATH": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'flask.db'}",
    }
    completed = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "website", "db", "init"],
        cwd=project_root,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert "latest schema" in completed.stdout


def test_db_reset_asks_first_and_keeps_everything_when_declined(
    empty_database_app: Flask, make_user: Callable[..., User]
) -> None:
    database_admin.migrate_to_head()
    make_user("alice")

    result = invoke(empty_database_app, "db", "reset", input="n\n")

    assert result.exit_code == 1
    assert "Aborted" in result.output
    assert count(User) == 1


@pytest.mark.parametrize(
    ("arguments", "answer"), [(["--yes"], None), ([], "y\n")], ids=["--yes", "confirmed"]
)
def test_db_reset_deletes_everything_and_leaves_a_usable_schema(
    empty_database_app: Flask,
    make_user: Callable[..., User],
    arguments: list[str],
    answer: str | None,
) -> None:
    database_admin.migrate_to_head()
    make_user("alice")

    result = invoke(empty_database_app, "db", "reset", *arguments, input=answer)

    assert result.exit_code == 0, result.output
    assert "Database reset." in result.output
    assert count(User) == 0
    make_user("alice")  # the schema is back, constraints and all
    assert count(User) == 1


def test_db_seed_creates_the_demo_user_and_ten_tasks_over_the_three_feeds(app: Flask) -> None:
    result = invoke(app, "db", "seed")

    assert result.exit_code == 0, result.output
    assert f"Demo login: {DEMO_USERNAME} / {DEVELOPMENT_DEMO_PASSWORD}" in result.output
    tasks = demo_tasks()
    assert len(tasks) == len(DEMO_TASKS) == 10
    base_url = app.config["DEMO_BASE_URL"]
    assert {task.url for task in tasks} == {f"{base_url}/demo/events/{feed}" for feed in DEMO_FEEDS}
    assert all(10 <= task.task_interval <= 60 for task in tasks)
    assert all(task.state == "active" for task in tasks)
    assert all(task.next_run_at is not None for task in tasks)
    assert max(task.next_run_at for task in tasks if task.next_run_at) <= datetime.now(UTC)


def test_the_printed_demo_login_works(app: Flask, client: FlaskClient) -> None:
    invoke(app, "db", "seed")
    response = client.post(
        "/login", json={"username": DEMO_USERNAME, "password": DEVELOPMENT_DEMO_PASSWORD}
    )
    assert response.status_code == 200, response.json
    token = response.json["access_token"]
    tasks = client.get("/tasks", headers={"Authorization": f"Bearer {token}"})
    assert len(tasks.json) == 10


def test_db_seed_twice_creates_nothing_new(app: Flask) -> None:
    invoke(app, "db", "seed")
    before = [(task.id, task.name, task.url) for task in demo_tasks()]

    again = invoke(app, "db", "seed")

    assert again.exit_code == 0, again.output
    assert "0 created, 10 already there" in again.output
    assert DEVELOPMENT_DEMO_PASSWORD not in again.output
    assert [(task.id, task.name, task.url) for task in demo_tasks()] == before
    assert count(User) == 1


def test_db_seed_completes_a_partial_seed(app: Flask) -> None:
    invoke(app, "db", "seed")
    db.session.delete(demo_tasks()[0])
    db.session.commit()

    result = invoke(app, "db", "seed")

    assert "1 created, 9 already there" in result.output
    assert len(demo_tasks()) == 10


def test_db_seed_reset_starts_over_without_the_old_jobs_and_data(
    app: Flask, make_user: Callable[..., User], make_task: Callable[..., Task]
) -> None:
    invoke(app, "db", "seed")
    old_task = demo_tasks()[0]
    job = Job(task_id=old_task.id, scheduled_for=datetime.now(UTC), status=JobStatus.SUCCEEDED)
    db.session.add(job)
    db.session.flush()
    db.session.add(Data(job_id=job.id, task_id=old_task.id, payload={}, content_hash="0" * 64))
    db.session.commit()
    someone_elses = make_task(owner=make_user("bob"))

    result = invoke(app, "db", "seed", "--reset")

    assert result.exit_code == 0, result.output
    assert "Deleted 10 demo tasks" in result.output
    assert old_task.id not in {task.id for task in demo_tasks()}
    assert len(demo_tasks()) == 10
    assert count(Job) == 0
    assert count(Data) == 0
    assert db.session.get(Task, someone_elses.id) is not None


def test_db_seed_points_the_tasks_at_the_given_base_url(app: Flask) -> None:
    result = invoke(app, "db", "seed", "--base-url", "http://127.0.0.1:8123/")
    assert result.exit_code == 0, result.output
    assert all(task.url.startswith("http://127.0.0.1:8123/demo/events/") for task in demo_tasks())


def test_db_seed_in_production_prints_a_random_password_once(app: Flask) -> None:
    app.config["APP_ENV"] = "production"

    first = invoke(app, "db", "seed")
    second = invoke(app, "db", "seed")

    assert first.exit_code == 0, first.output
    password = first.output.split(f"Demo login: {DEMO_USERNAME} / ", 1)[1].split()[0]
    assert password != DEVELOPMENT_DEMO_PASSWORD
    assert len(password) >= 20
    demo = db.session.scalars(select(User).where(User.username == DEMO_USERNAME)).one()
    assert verify_password(demo.password_hash, password)
    assert password not in second.output
    assert "password is unchanged" in second.output


def test_db_seed_with_a_password_sets_it_even_for_an_existing_demo_user(app: Flask) -> None:
    invoke(app, "db", "seed")

    result = invoke(app, "db", "seed", "--password", "a-new-demo-password")

    assert result.exit_code == 0, result.output
    demo = db.session.scalars(select(User).where(User.username == DEMO_USERNAME)).one()
    db.session.refresh(demo)
    assert verify_password(demo.password_hash, "a-new-demo-password")


def test_db_seed_reports_a_refused_task_as_a_clean_error(app: Flask) -> None:
    app.config["FETCH_ALLOW_PRIVATE"] = False

    result = invoke(app, "db", "seed", "--base-url", "http://127.0.0.1:8000")

    assert result.exit_code == 1
    assert result.output.splitlines()[-1].startswith("Error: Invalid task: url")
    assert "Traceback" not in result.output


def test_db_seed_makes_no_admin_the_operator_did_not_ask_for(app: Flask) -> None:
    result = invoke(app, "db", "seed")

    assert result.exit_code == 0, result.output
    assert [(user.username, user.role) for user in db.session.scalars(select(User))] == [
        (DEMO_USERNAME, "user")
    ]
    assert "admin" not in result.output.lower()


def test_db_seed_points_the_demo_tasks_at_port(app: Flask, tmp_path: Path) -> None:
    # The console script, as a user runs it: `PORT=8500 challenge db seed` after `PORT=8500 make
    # run` (the session's own DEMO_BASE_URL, if any, is not a user's).
    environment = {
        name: value for name, value in os.environ.items() if name not in {"DEMO_BASE_URL", "PORT"}
    }
    completed = subprocess.run(
        [str(Path(sys.executable).with_name("challenge")), "db", "seed"],
        env={**environment, "PORT": "8500"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr
    db.session.remove()
    urls = {task.url for task in demo_tasks()}
    assert urls == {f"http://127.0.0.1:8500/demo/events/{feed}" for feed in DEMO_FEEDS}
