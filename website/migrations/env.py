"""Alembic environment: migrations run against the Flask app's engine and models."""

from __future__ import annotations

from typing import Any

from alembic import context
from alembic.migration import MigrationContext
from flask import current_app
from sqlalchemy.engine import Connection

import website.models  # noqa: F401  (registers every table on the metadata)
from website.database import without_statement_timeout

config = context.config
target_db = current_app.extensions["migrate"].db
target_metadata = target_db.metadata


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(
        url=target_db.engine.url.render_as_string(hide_password=False),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_foreign_keys(connection: Connection, enforced: bool) -> None:
    # Straight to the driver, outside any transaction: SQLite ignores this pragma inside one.
    if connection.in_transaction():
        connection.rollback()  # only reads can be pending here: each migration commits its own
    connection.connection.driver_connection.execute(f"PRAGMA foreign_keys={int(enforced)}")


def _refuse_broken_references(ctx: MigrationContext, **_step: Any) -> None:
    """After each migration step, before it commits: no row may refer to a missing row."""
    assert ctx.connection is not None
    broken = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration left rows referring to missing rows: {broken[:10]}")


def run_migrations_online() -> None:
    """Run migrations on a live connection, as long as they take (a big table's rewrite may)."""
    with (
        target_db.engine.connect() as engine_connection,
        without_statement_timeout(engine_connection) as connection,
    ):
        is_sqlite = connection.dialect.name == "sqlite"
        options = {
            **current_app.extensions["migrate"].configure_args,
            # SQLite cannot ALTER most things: batch mode recreates the table instead.
            "render_as_batch": is_sqlite,
        }
        if is_sqlite:
            options["on_version_apply"] = _refuse_broken_references
            # Recreating a table drops the old one, which with foreign keys enforced would
            # cascade to every row referring to it (SQLite's own procedure for schema changes
            # turns them off); each step is checked instead, and they are back on afterwards
            # (the connection returns to the pool).
            _sqlite_foreign_keys(connection, enforced=False)
        context.configure(connection=connection, target_metadata=target_metadata, **options)
        try:
            with context.begin_transaction():
                context.run_migrations()
        finally:
            if is_sqlite:
                _sqlite_foreign_keys(connection, enforced=True)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
