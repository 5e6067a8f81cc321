"""``challenge db``: migrate, seed and reset the database."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from website.errors import DomainError
from website.services import database_admin
from website.services.seed import DEMO_TASKS, DemoTask, SeedResult, seed_demo

__all__ = ["db_group", "echo_seed_result"]


db_group = AppGroup("db", help="Create, seed and reset the database.")


@db_group.command("init")
def init_command() -> None:
    """Migrate the database to the latest schema (safe to run again)."""
    database_admin.migrate_to_head()
    click.echo("Database is at the latest schema.")


@db_group.command("seed")
@click.option("--reset", is_flag=True, help="Delete the demo user's tasks, jobs and data first.")
@click.option(
    "--password",
    help="The demo user's password (default: demo-password in development, random in production).",
)
@click.option(
    "--base-url",
    help="Where the demo feed is served (default: DEMO_BASE_URL, http://127.0.0.1:8000).",
)
def seed_command(reset: bool, password: str | None, base_url: str | None) -> None:
    """Create the demo user and 10 tasks over the demo event feeds (safe to run again)."""
    with click.progressbar(length=len(DEMO_TASKS), label="Seeding demo tasks") as bar:

        def advance(_task: DemoTask) -> None:
            bar.update(1)

        try:
            result = seed_demo(password=password, reset=reset, base_url=base_url, on_task=advance)
        except DomainError as error:
            raise click.ClickException(_describe(error)) from None
    echo_seed_result(result)


def _describe(error: DomainError) -> str:
    details = "; ".join(
        f"{field}: {' '.join(map(str, problem)) if isinstance(problem, list) else problem}"
        for field, problem in error.errors.items()
    )
    return f"{error.message} ({details})" if details else error.message


def echo_seed_result(result: SeedResult) -> None:
    """Say what seeding did, and the demo login when this run chose its password."""
    if result.tasks_deleted:
        click.echo(f"Deleted {result.tasks_deleted} demo tasks with their jobs and data.")
    click.echo(f"Demo tasks: {result.tasks_created} created, {result.tasks_kept} already there.")
    if result.password is not None:
        click.echo(f"Demo login: {result.username} / {result.password}")
    else:
        click.echo(f"Demo user {result.username!r} already exists; its password is unchanged.")


@db_group.command("reset")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset_command(yes: bool) -> None:
    """Drop all data and recreate the schema."""
    if not yes:
        click.confirm("This deletes every user, task, job and record. Continue?", abort=True)
    database_admin.reset_database()
    click.echo("Database reset.")
