"""Preparing the database for ``challenge run``: migrate always, seed a brand-new one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.support.empty_database import app_on_empty_database
from website.extensions import db
from website.models import Task
from website.services import database_admin
from website.services.seed import DEMO_USERNAME, prepare_demo_database
from website.services.users import create_user, get_user_by_username

BASE_URL = "http://127.0.0.1:8123"


@pytest.fixture
def empty_database_app(test_environment: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    with app_on_empty_database(test_environment["DATABASE_URL"], tmp_path) as app:
        yield app


def _task_urls() -> set[str]:
    return set(db.session.scalars(select(Task.url)))


def test_a_new_database_is_migrated_and_seeded_with_tasks_fetching_from_this_stack(
    empty_database_app: Flask,
) -> None:
    result = prepare_demo_database(BASE_URL)

    assert result is not None
    assert result.tasks_created == 10
    assert not database_admin.database_is_new()
    assert all(url.startswith(f"{BASE_URL}/demo/events/") for url in _task_urls())


def test_a_new_database_is_not_seeded_where_the_demo_feed_is_off(
    empty_database_app: Flask,
) -> None:
    empty_database_app.config["DEMO_FEED"] = False

    assert prepare_demo_database(BASE_URL) is None
    assert not database_admin.database_is_new()
    assert get_user_by_username(DEMO_USERNAME) is None


def test_an_existing_database_is_not_seeded_again(empty_database_app: Flask) -> None:
    database_admin.migrate_to_head()
    create_user("alice", "correct horse battery")

    assert prepare_demo_database(BASE_URL) is None
    assert get_user_by_username(DEMO_USERNAME) is None
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0
