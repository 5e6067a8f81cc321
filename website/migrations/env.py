"""Alembic environment: migrations run against the Flask app's engine and models."""

from __future__ import annotations

from alembic import context
from flask import current_app

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


def run_migrations_online() -> None:
    """Run migrations on a live connection, as long as they take (a big table's rewrite may)."""
    with (
        target_db.engine.connect() as engine_connection,
        without_statement_timeout(engine_connection) as connection,
    ):
        options = {
            **current_app.extensions["migrate"].configure_args,
            # SQLite cannot ALTER most things: batch mode recreates the table instead.
            "render_as_batch": connection.dialect.name == "sqlite",
        }
        context.configure(connection=connection, target_metadata=target_metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
