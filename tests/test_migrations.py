"""Migrations: from an empty database to head and back, matching the models, on either database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import flask_migrate
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect

from tests.support.empty_database import app_on_empty_database
from website.extensions import db
from website.services import database_admin

OUR_TABLES = {"users", "tasks", "jobs", "data"}


@pytest.fixture
def empty_database_app(test_environment: dict[str, str], tmp_path: Path) -> Iterator[Flask]:
    """The app on a database of its own with no tables at all (same kind as the session's)."""
    with app_on_empty_database(test_environment["DATABASE_URL"], tmp_path) as app:
        yield app


def _tables() -> set[str]:
    return set(inspect(db.engine).get_table_names())


def _schema_differences() -> list[object]:
    """What autogenerate would change to make the database match the models (nothing, ideally)."""
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, db.metadata))


def _migration_scripts(app: Flask) -> ScriptDirectory:
    return ScriptDirectory(app.extensions["migrate"].directory)


def test_the_migrations_form_one_line_with_a_single_head(empty_database_app: Flask) -> None:
    assert len(_migration_scripts(empty_database_app).get_heads()) == 1


def test_migrating_records_the_head_revision(empty_database_app: Flask) -> None:
    database_admin.migrate_to_head()
    with db.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    assert current == tuple(_migration_scripts(empty_database_app).get_heads())


def test_an_empty_database_is_new_until_migrated(empty_database_app: Flask) -> None:
    assert database_admin.database_is_new()
    assert _schema_differences() != []  # the comparison sees what is missing
    database_admin.migrate_to_head()
    assert not database_admin.database_is_new()


def test_migrating_an_empty_database_reaches_exactly_the_models(empty_database_app: Flask) -> None:
    database_admin.migrate_to_head()
    assert OUR_TABLES | {"alembic_version"} == _tables()
    assert _schema_differences() == []


def test_migrating_twice_changes_nothing(empty_database_app: Flask) -> None:
    database_admin.migrate_to_head()
    database_admin.migrate_to_head()
    assert _schema_differences() == []


def test_downgrading_to_base_removes_every_table_and_upgrading_restores_them(
    empty_database_app: Flask,
) -> None:
    database_admin.migrate_to_head()
    flask_migrate.downgrade(revision="base")
    assert _tables() & OUR_TABLES == set()
    database_admin.migrate_to_head()
    assert _schema_differences() == []
