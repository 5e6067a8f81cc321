"""``challenge db``: migrate, seed and reset the database."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from website.services import database_admin

__all__ = ["db_group"]


db_group = AppGroup("db", help="Create, seed and reset the database.")


@db_group.command("init")
def init_command() -> None:
    """Migrate the database to the latest schema (safe to run again)."""
    database_admin.migrate_to_head()
    click.echo("Database is at the latest schema.")


@db_group.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_command(yes: bool) -> None:
    """Drop all data and recreate the schema."""
    if not yes:
        click.confirm("This deletes every user, task, job and record. Continue?", abort=True)
    database_admin.reset_database()
    click.echo("Database reset.")
