"""Creating, migrating and resetting the database schema."""

from __future__ import annotations

import logging

import flask_migrate
from sqlalchemy import inspect

from website.extensions import db

__all__ = ["database_is_new", "migrate_to_head", "reset_database"]

logger = logging.getLogger(__name__)


def database_is_new() -> bool:
    """True when the database has no tables of ours yet."""
    return not inspect(db.engine).has_table("users")


def migrate_to_head() -> None:
    """Apply every migration not yet applied (harmless when already at head)."""
    flask_migrate.upgrade()
    logger.info("database migrated to head")


def reset_database() -> None:
    """Drop every table, then migrate from empty to head."""
    flask_migrate.downgrade(revision="base")
    db.session.remove()
    with db.engine.begin() as connection:
        for table in ("alembic_version",):
            connection.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    migrate_to_head()
