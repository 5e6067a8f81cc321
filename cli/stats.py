"""``challenge stats``: what GET /stats answers, for everyone or one user, as text or JSON."""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import with_appcontext

from website.errors import DomainError
from website.schemas.stats import StatsSchema
from website.services.stats import (
    DEFAULT_WINDOW_SECONDS,
    MAX_WINDOW_SECONDS,
    MIN_WINDOW_SECONDS,
    collect_stats_for_username,
)

__all__ = ["format_stats", "stats_command"]


@click.command("stats")
@click.option("--user", "username", help="Only this user's tasks and jobs (default: everyone's).")
@click.option(
    "--window",
    type=click.IntRange(MIN_WINDOW_SECONDS, MAX_WINDOW_SECONDS),
    default=DEFAULT_WINDOW_SECONDS,
    show_default=True,
    help="Seconds back from now that the job statistics cover.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document GET /stats answers.")
@with_appcontext
def stats_command(username: str | None, window: int, as_json: bool) -> None:
    """Print tasks by state; jobs by status, success rate and execution time over a window."""
    try:
        stats = collect_stats_for_username(username, window)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    document = StatsSchema().dump(stats)
    click.echo(json.dumps(document, indent=2) if as_json else format_stats(document, username))


def format_stats(document: dict[str, Any], username: str | None = None) -> str:
    """The statistics as a short report for a terminal."""
    tasks, jobs = document["tasks"], document["jobs"]
    timing = jobs["execution_time"]
    rate = jobs["success_rate"]
    lines = [
        f"Statistics for {f'user {username}' if username else 'every user'}",
        f"Tasks: {tasks['total']}",
        *(f"  {state:<10} {count:>8}" for state, count in tasks["by_state"].items()),
        f"Jobs queued in the last {document['window_seconds']} s "
        f"(since {document['since']}): {jobs['total']}",
        *(f"  {status:<10} {count:>8}" for status, count in jobs["by_status"].items()),
        f"Success rate: {'n/a' if rate is None else f'{rate:.1%}'}",
        f"Execution time: mean {_seconds(timing['mean'])}, p95 {_seconds(timing['p95'])}",
    ]
    return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f} s"
