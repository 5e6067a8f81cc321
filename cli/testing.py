"""``challenge test`` and ``challenge cov``: the test suite, plain or under coverage."""

from __future__ import annotations

import subprocess
import sys

import click

from cli import ENVIRONMENT_BEFORE_DOTENV

__all__ = ["cov_command", "test_command"]


@click.command("test", context_settings={"ignore_unknown_options": True})
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def test_command(pytest_args: tuple[str, ...]) -> None:
    """Run the test suite with pytest (extra arguments go to pytest)."""
    raise SystemExit(
        subprocess.call([sys.executable, "-m", "pytest", *pytest_args], env=_suite_env())
    )


@click.command("cov", context_settings={"ignore_unknown_options": True})
@click.argument("pytest_args", nargs=-1, type=click.UNPROCESSED)
def cov_command(pytest_args: tuple[str, ...]) -> None:
    """Run the test suite under coverage and print a report."""
    code = subprocess.call(
        [sys.executable, "-m", "coverage", "run", "-m", "pytest", *pytest_args], env=_suite_env()
    )
    subprocess.call([sys.executable, "-m", "coverage", "combine", "-q"])
    subprocess.call([sys.executable, "-m", "coverage", "report"])
    raise SystemExit(code)


def _suite_env() -> dict[str, str]:
    """The environment the suite runs in: the caller's, without what a .env file added."""
    return {**ENVIRONMENT_BEFORE_DOTENV, "FLASK_SKIP_DOTENV": "1"}
