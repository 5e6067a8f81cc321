"""The ``challenge`` console script: a FlaskGroup with the project's commands."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup

from cli.db import db_group
from cli.feed import feed_command
from cli.run import run_command
from cli.stats import stats_command
from cli.tasks import tasks_group
from cli.testing import cov_command, test_command
from cli.users import users_group
from website import create_app
from website.config import ConfigError

__all__ = ["main"]


def _create_app() -> Flask:
    # A refused configuration is the operator's to fix: say what is wrong, without a traceback.
    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(f"configuration refused: {error}") from None


@click.group(cls=FlaskGroup, create_app=_create_app, load_dotenv=True)
def main() -> None:
    """Operate challenge: database, seeding, scheduling and the embedded stack."""


# run_command replaces Flask's built-in development server under the same name.
for command in (
    db_group,
    users_group,
    tasks_group,
    feed_command,
    stats_command,
    test_command,
    cov_command,
    run_command,
):
    main.add_command(command)
