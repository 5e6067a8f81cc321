"""The ``challenge`` console script: a FlaskGroup with the project's commands.

The commands are imported when one of them runs, not before: ``challenge --help`` lists them from
the table below without importing Celery, SQLAlchemy or the app.
"""

from __future__ import annotations

import importlib
import logging
import os
from typing import TYPE_CHECKING, Any

import click
from flask.cli import FlaskGroup, ScriptInfo

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["main"]

# The environment before the group loads a .env: the test suite runs in this one (cli/testing.py).
ENVIRONMENT_BEFORE_DOTENV = dict(os.environ)
VERBOSE = "challenge.verbose"  # where the group's -v waits in ScriptInfo.data for the app

# name: (module, attribute, the one line `challenge --help` shows). A test checks that each line
# is the command's own short help.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "db": ("cli.db", "db_group", "Create, seed and reset the database."),
    "users": ("cli.users", "users_group", "Manage user accounts."),
    "tasks": (
        "cli.tasks",
        "tasks_group",
        "Work with fetch tasks: import, export, list, run, retry.",
    ),
    "feed": (
        "cli.feed",
        "feed_command",
        "Dispatch every due task now and print what was dispatched.",
    ),
    "stats": (
        "cli.stats",
        "stats_command",
        "Print tasks by state; jobs by status, success rate and execution time over a window.",
    ),
    "test": (
        "cli.testing",
        "test_command",
        "Run the test suite with pytest (extra arguments go to pytest).",
    ),
    "cov": ("cli.testing", "cov_command", "Run the test suite under coverage and print a report."),
    # Replaces Flask's development server under the same name.
    "run": (
        "cli.run",
        "run_command",
        "Run the web server, a worker and beat (and Redis unless REDIS_URL is set) until Ctrl-C.",
    ),
}


def _create_app() -> Flask:
    from website import create_app
    from website.config import ConfigError

    # A refused configuration is the operator's to fix: say what is wrong, without a traceback.
    try:
        app = create_app()
    except ConfigError as error:
        raise click.ClickException(f"configuration refused: {error}") from None
    context = click.get_current_context(silent=True)
    info = context.find_object(ScriptInfo) if context is not None else None
    if info is not None and not info.data.get(VERBOSE):
        # A command prints its result; the app's INFO lines would only interleave with it.
        root = logging.getLogger()
        root.setLevel(max(root.level, logging.WARNING))
    return app


class ChallengeGroup(FlaskGroup):
    """FlaskGroup whose own commands load on first use, and whose errors are one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        # Our commands and Flask's (shell, routes); extensions' commands (openapi, migrations,
        # limiter) still run by name, but listing them would build the app.
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS and name not in self.commands:
            module, attribute, _ = COMMANDS[name]
            command = getattr(importlib.import_module(module), attribute)
            self.add_command(command, name)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            limit = formatter.width - 6 - len(name)
            if name in COMMANDS and name not in self.commands:
                summary = click.Command(name, help=COMMANDS[name][2])  # shortened as click does
                rows.append((name, summary.get_short_help_str(limit)))
                continue
            # click.Group's lookup: FlaskGroup's would import every plugin and build the app.
            command = click.Group.get_command(self, ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            message = _unreachable_database(error)
            if message is None:
                raise
            raise click.ClickException(message) from None


def _unreachable_database(error: Exception) -> str | None:
    """One line for a database that does not answer, or None for any other error."""
    import sys

    if "sqlalchemy" not in sys.modules:  # nothing touched a database
        return None
    from sqlalchemy.exc import OperationalError

    # Failing to connect leaves no statement behind; a failing statement is another story.
    if not isinstance(error, OperationalError) or error.statement is not None:
        return None
    reason = str(error.orig or error).strip().splitlines()[0] if str(error.orig or error) else ""
    return (
        f"configuration refused: DATABASE_URL: the database does not answer ({reason}). "
        "Start it, or point DATABASE_URL at one that runs (unset: a SQLite file in instance/)."
    )


@click.group(
    cls=ChallengeGroup,
    create_app=_create_app,
    load_dotenv=True,
    add_version_option=False,
)
@click.version_option(package_name="challenge", message="challenge %(version)s")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also print the app's INFO log lines (migrations, seeding, ...) while a command runs.",
)
@click.pass_context
def main(ctx: click.Context, verbose: bool) -> None:
    """Operate challenge: database, seeding, scheduling and the embedded stack.

    The commands of Flask's extensions run by name too: openapi (the spec), migrations
    (Flask-Migrate) and limiter (Flask-Limiter).
    """
    ctx.ensure_object(ScriptInfo).data[VERBOSE] = verbose


# Flask's development server steps aside for ours (COMMANDS["run"]).
main.commands.pop("run", None)
