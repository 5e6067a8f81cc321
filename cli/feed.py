"""``challenge feed``: run the scheduler tick from the command line, once or in a loop."""

from __future__ import annotations

import time

import click
from flask import current_app
from flask.cli import with_appcontext

from website.extensions import db
from website.services.retention import prune
from website.services.scheduler import TickReport, tick

__all__ = ["feed_command", "print_report"]


@click.command("feed")
@click.option("--loop", is_flag=True, help="Keep ticking (for deployments without celery beat).")
@with_appcontext
def feed_command(loop: bool) -> None:
    """Dispatch every due task now and print what was dispatched.

    Exits non-zero when jobs were due but none could be published (Redis unreachable).
    """
    if not loop:
        report = tick()
        print_report(report)
        if report.dispatched and not report.published:
            raise click.ClickException(
                f"nothing could be published: Redis (REDIS_URL) did not take the "
                f"{len(report.dispatched)} jobs; they stay queued, and a tick publishes them "
                "again once Redis answers"
            )
        return
    tick_seconds = current_app.config["SCHEDULER_TICK_SECONDS"]
    prune_seconds = current_app.config["PRUNE_INTERVAL_SECONDS"]
    click.echo(f"Ticking every {tick_seconds:g} s; Ctrl-C stops.")
    next_prune = time.monotonic() + prune_seconds
    try:
        while True:
            started = time.monotonic()
            report = tick()
            if report.dispatched or report.lost or report.republished or report.promoted:
                print_report(report)
            if started >= next_prune:
                prune()
                next_prune = started + prune_seconds
            db.session.remove()
            time.sleep(max(0.0, tick_seconds - (time.monotonic() - started)))
    except KeyboardInterrupt:
        click.echo("Stopped.")


def print_report(report: TickReport) -> None:
    """One line per dispatched job, then a summary line."""
    for message in report.dispatched:
        state = "published" if message.job_id in report.published else "left queued"
        click.echo(
            f"job {message.job_id}: task {message.task_id}, slot {message.due_at.isoformat()}, "
            f"{state}"
        )
    click.echo(
        f"Dispatched {len(report.dispatched)} jobs ({report.unpublished} left queued for the "
        f"reconciler), {len(report.lost)} lost, {len(report.republished)} republished, "
        f"{len(report.promoted)} promoted as overdue."
    )
