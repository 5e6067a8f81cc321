"""Migrations: from an empty database to head and back, matching the models, on either database."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from tests.support.empty_database import app_on_empty_database
from website.extensions import db
from website.models import Job, Task, User
from website.services import database_admin
from website.services.users import create_user

OUR_TABLES = {"users", "tasks", "jobs", "data"}  # the tables of revision 0001
HEAD_TABLES = OUR_TABLES | {"api_keys", "webhooks", "webhook_events", "webhook_deliveries"}


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
    assert HEAD_TABLES | {"alembic_version"} == _tables()
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
    assert _tables() & HEAD_TABLES == set()
    database_admin.migrate_to_head()
    assert _schema_differences() == []


WHEN = datetime(2026, 1, 1, tzinfo=UTC)
Tables = Mapping[str, sa.Table]


def _tables_at_0001() -> Tables:
    """Migrate to revision 0001 and read its tables back from the database, as they are there."""
    flask_migrate.upgrade(revision="0001")
    metadata = sa.MetaData()
    metadata.reflect(db.engine, only=sorted(OUR_TABLES))
    return metadata.tables


def _insert(table: sa.Table, connection: Connection | None = None, **values: Any) -> int:
    statement = table.insert().values(**values).returning(table.c.id)
    if connection is not None:
        return int(connection.execute(statement).scalar_one())
    with db.engine.begin() as own:
        return int(own.execute(statement).scalar_one())


def _user(tables: Tables, username: str) -> int:
    return _insert(
        tables["users"],
        username=username,
        password_hash="$argon2id$not-checked-here",
        role="user",
        is_active=True,
        created_at=WHEN,
    )


def _task(tables: Tables, owner_id: int, connection: Connection | None = None) -> int:
    return _insert(
        tables["tasks"],
        connection,
        owner_id=owner_id,
        name=f"task of {owner_id}",
        url="http://127.0.0.1:9/feed",
        parameters={"records_path": "items"},
        start_time=WHEN,
        task_interval=60,
        max_execution_time=5,
        max_attempt=3,
        attempt=0,
        enabled=True,
        priority=5,
        created_at=WHEN,
        updated_at=WHEN,
    )


def _task_job_and_data(tables: Tables, owner_id: int) -> tuple[int, int]:
    task_id = _task(tables, owner_id)
    job_id = _insert(
        tables["jobs"],
        task_id=task_id,
        scheduled_for=WHEN,
        attempt=0,
        trigger="schedule",
        status="succeeded",
        queued_at=WHEN,
        not_modified=False,
    )
    _insert(tables["data"], job_id=job_id, task_id=task_id, payload={"n": 1}, content_hash="0" * 64)
    return task_id, job_id


def _rows(table: sa.Table) -> list[sa.Row[Any]]:
    with db.engine.connect() as connection:
        return list(connection.execute(sa.select(table).order_by(table.c.id)))


def _delete(table: sa.Table, row_id: int) -> None:
    with db.engine.begin() as connection:
        connection.execute(table.delete().where(table.c.id == row_id))


def test_upgrading_a_database_holding_rows_keeps_every_row_and_link(
    empty_database_app: Flask,
) -> None:
    tables = _tables_at_0001()
    alice, bob = _user(tables, "alice"), _user(tables, "bob")
    _task_job_and_data(tables, alice)
    _task_job_and_data(tables, bob)
    before = {name: _rows(table) for name, table in tables.items()}

    database_admin.migrate_to_head()

    assert {name: _rows(table) for name, table in tables.items()} == before
    assert _schema_differences() == []
    # The foreign keys still hold and still cascade: alice goes with her task, job and data.
    _delete(tables["users"], alice)
    assert [task.owner_id for task in _rows(tables["tasks"])] == [bob]
    assert len(_rows(tables["jobs"])) == len(_rows(tables["data"])) == 1


def test_after_upgrading_no_id_of_a_deleted_user_task_or_job_is_reused(
    empty_database_app: Flask,
) -> None:
    tables = _tables_at_0001()
    _user(tables, "first")
    newest = _user(tables, "newest")
    task_id, job_id = _task_job_and_data(tables, newest)
    database_admin.migrate_to_head()

    _delete(tables["jobs"], job_id)
    _delete(tables["tasks"], task_id)
    _delete(tables["users"], newest)
    user = create_user("newcomer", "newcomer password")
    task = Task(
        owner_id=user.id, name="t", url="http://127.0.0.1:9/", start_time=WHEN, task_interval=60
    )
    db.session.add(task)
    db.session.commit()
    job = Job(task_id=task.id, scheduled_for=WHEN)
    db.session.add(job)
    db.session.commit()

    assert user.id > newest
    assert task.id > task_id
    assert job.id > job_id


def test_upgrading_renames_a_later_case_variant_of_a_username_and_keeps_its_rows(
    empty_database_app: Flask,
) -> None:
    tables = _tables_at_0001()
    first = _user(tables, "seccaseX")
    variant = _user(tables, "SECCASEX")
    _task_job_and_data(tables, variant)

    database_admin.migrate_to_head()

    assert [task.owner_id for task in _rows(tables["tasks"])] == [variant]
    users = {user.id: user for user in db.session.scalars(sa.select(User))}
    assert {user_id: user.username for user_id, user in users.items()} == {
        first: "seccaseX",
        variant: f"SECCASEX-{variant}",
    }
    # Every existing account gets a stamp of its own.
    assert len({user.security_stamp for user in users.values()}) == 2


def test_on_sqlite_a_migration_step_leaving_a_row_without_its_parent_is_not_committed(
    test_environment: dict[str, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # SQLite migrations run with foreign keys off (a table rebuild would cascade otherwise), so
    # each step is checked before it commits. A row already dangling at 0001 (written with
    # foreign keys off) is such a row: the upgrade stops at 0001 and the database stays usable.
    with app_on_empty_database("sqlite://", tmp_path):
        tables = _tables_at_0001()
        owner = _user(tables, "owner")
        with db.engine.connect() as connection:
            driver = connection.connection.driver_connection
            driver.execute("PRAGMA foreign_keys=OFF")
            with connection.begin():
                _task(tables, owner + 1000, connection)  # no such owner
            driver.execute("PRAGMA foreign_keys=ON")

        with pytest.raises(SystemExit):  # flask-migrate's answer to a failed migration
            database_admin.migrate_to_head()

        assert "referring to missing rows: [('tasks'" in caplog.text
        with db.engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == ("0001",)
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1


def test_upgrading_to_0003_keeps_the_tasks_and_their_checks_and_allows_one_off_tasks(
    empty_database_app: Flask,
) -> None:
    tables = _tables_at_0001()
    owner = _user(tables, "owner")
    task_id, _job_id = _task_job_and_data(tables, owner)
    flask_migrate.upgrade(revision="0002")
    before = _rows(tables["tasks"])

    database_admin.migrate_to_head()

    assert _rows(tables["tasks"]) == before
    assert db.session.get(Task, task_id).retry_backoff == 1.0  # the backoff it had
    one_off = Task(owner_id=owner, name="once", url="http://127.0.0.1:9/", start_time=WHEN)
    db.session.add(one_off)
    db.session.commit()
    assert (one_off.task_interval, one_off.retry_backoff) == (None, 1.0)
    db.session.close()
    tasks = sa.table(
        "tasks", sa.column("id"), sa.column("task_interval"), sa.column("retry_backoff")
    )
    for broken in ({"task_interval": 0}, {"retry_backoff": 0.0}):
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as connection:
            connection.execute(tasks.update().where(tasks.c.id == task_id).values(**broken))

    flask_migrate.downgrade(revision="0002")

    intervals = {row.id: row.task_interval for row in _rows(tables["tasks"])}
    assert intervals[task_id] == 60
    assert intervals[one_off.id] == 365 * 24 * 3600  # a one-off task becomes a yearly one
