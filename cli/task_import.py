"""``challenge tasks import`` and ``export``: task bodies in a file, through the batch service.

A file is a JSON array of task bodies or JSON Lines (one body per line), told apart by its first
character. Each body is what POST /tasks accepts; export writes every task's settings the same
way, so that an export imports again as it was.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO, Any

import click
from flask.cli import with_appcontext

from website.errors import InvalidInput
from website.models import User
from website.schemas.task_batches import BATCH_MODES, export_task, load_task_items
from website.schemas.task_files import Entry, error_lines, read_task_entries
from website.services.run_reports import (
    RunReport,
    run_report,
    run_tasks_once,
    wait_for_jobs,
)
from website.services.task_batches import TaskItem, import_tasks, tasks_of
from website.services.users import get_user_by_username, list_users

__all__ = ["export_command", "import_command", "read_task_file"]

FORMATS = ("jsonl", "json")
PROGRESS_MIN_ITEMS = 100  # files with fewer tasks import without a progress bar
DEFAULT_WAIT_SECONDS = 300.0


def read_task_file(text: str) -> list[Entry]:
    """The entries of a JSON array or of JSON Lines (blank lines skipped)."""
    try:
        return read_task_entries(text)
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@click.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--user", "username", help="The tasks' owner (default: the only user there is).")
@click.option(
    "--mode",
    type=click.Choice(BATCH_MODES),
    default="all",
    show_default=True,
    help="all: import nothing unless every task is valid; partial: import the valid ones.",
)
@click.option("--run-once", is_flag=True, help="Run every imported task once, now.")
@click.option("--wait", is_flag=True, help="With --run-once: wait for the runs and report.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_WAIT_SECONDS,
    show_default=True,
    help="Seconds --wait waits at most.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of text.")
@with_appcontext
def import_command(
    file: IO[str],
    username: str | None,
    mode: str,
    run_once: bool,
    wait: bool,
    timeout: float,
    as_json: bool,
) -> None:
    """Create the tasks of FILE (a JSON array or JSON Lines of task bodies, as POST /tasks takes).

    Exits 0 only when every task was imported and, with --run-once --wait, every run succeeded.
    """
    if wait and not run_once:
        raise click.UsageError("--wait goes with --run-once")
    owner = owner_named(username)
    owner_id, owner_name = owner.id, owner.username  # read before commits expire the row
    entries = read_task_file(file.read())
    items = [
        TaskItem(errors={"_json": [entry.error]}) if entry.error else item
        for entry, item in zip(entries, load_task_items(e.body for e in entries), strict=True)
    ]
    with _progress(len(items), as_json) as progress:
        try:
            batch = import_tasks(owner_id, items, partial=mode == "partial", progress=progress)
        except InvalidInput as error:
            _refuse(error, entries, as_json)
    refused = [
        {"entry": entries[result.index].label, "errors": result.errors}
        for result in batch.results
        if result.errors is not None
    ]
    output: dict[str, Any] = {"user": owner_name, "imported": batch.created, "refused": refused}
    if not as_json:
        _print_refused(refused)
        click.echo(f"Imported {batch.created} of {len(entries)} tasks for {owner_name}.")
    report = None
    if run_once:
        report = _run_once(batch.created_ids, wait, timeout, as_json)
        output["run"] = report.as_dict() if report else None
    if as_json:
        click.echo(json.dumps(output, indent=2))
    if refused or (report is not None and not report.all_succeeded):
        sys.exit(1)


@click.command("export")
@click.argument("file", type=click.File("w", encoding="utf-8"), default="-")
@click.option("--user", "username", help="Whose tasks (default: the only user there is).")
@click.option(
    "--format",
    "file_format",
    type=click.Choice(FORMATS),
    default="jsonl",
    show_default=True,
    help="JSON Lines (one task per line) or one JSON array.",
)
@with_appcontext
def export_command(file: IO[str], username: str | None, file_format: str) -> None:
    """Write every task's settings to FILE (default: standard output), as `import` reads them."""
    owner = owner_named(username)
    bodies = (export_task(task) for task in tasks_of(owner.id))
    if file_format == "jsonl":
        for body in bodies:
            file.write(json.dumps(body, ensure_ascii=False) + "\n")
        return
    file.write("[")
    for number, body in enumerate(bodies):
        file.write(("," if number else "") + "\n  " + json.dumps(body, ensure_ascii=False))
    file.write("\n]\n")


def owner_named(username: str | None) -> User:
    """The user called ``username``; without a name, the only user there is."""
    if username is not None:
        user = get_user_by_username(username)
        if user is None:
            raise click.ClickException(f"no user named {username!r}")
        return user
    users, total = list_users(page=1, page_size=2)
    if total != 1:
        raise click.UsageError(
            f"there are {total} users: name the tasks' owner with --user"
            if total
            else "there is no user yet: create one with `challenge users create`"
        )
    return users[0]


@contextmanager
def _progress(length: int, quiet: bool) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on standard error for files of many tasks; ``None`` for small ones."""
    if length < PROGRESS_MIN_ITEMS:
        yield None
        return
    with click.progressbar(length=length, label="Checking tasks", file=sys.stderr) as bar:
        yield bar.update


def _refuse(error: InvalidInput, entries: Sequence[Entry], as_json: bool) -> None:
    """Report an all-or-nothing refusal (bad entries, or the task limit) and exit 1."""
    by_index = error.errors.get("tasks")
    if isinstance(by_index, Mapping):
        refused = [
            {"entry": entries[int(index)].label, "errors": errors}
            for index, errors in by_index.items()
        ]
        message = f"Nothing imported: {len(refused)} of {len(entries)} tasks are invalid."
    else:
        refused = []
        message = f"Nothing imported: {error.message}."
    if as_json:
        click.echo(json.dumps({"imported": 0, "refused": refused, "error": message}, indent=2))
    else:
        _print_refused(refused)
        click.echo(message, err=True)
    sys.exit(1)


def _print_refused(refused: Sequence[Mapping[str, Any]]) -> None:
    for entry in refused:
        for problem in error_lines(entry["errors"]):
            click.echo(f"{entry['entry']}: {problem}", err=True)


def _run_once(
    task_ids: Sequence[int], wait: bool, timeout: float, as_json: bool
) -> RunReport | None:
    """Queue one run of each task; with ``wait``, wait for them and report."""
    started = time.monotonic()
    job_ids = run_tasks_once(task_ids)
    if not wait:
        if not as_json:
            click.echo(f"Queued {len(job_ids)} runs (jobs {_id_ranges(job_ids)}).")
        return None
    report = run_report(wait_for_jobs(job_ids, timeout), time.monotonic() - started)
    if not as_json:
        _print_report(report, timeout)
    return report


def _print_report(report: RunReport, timeout: float) -> None:
    by_status = ", ".join(f"{status} {count}" for status, count in report.by_status.items())
    click.echo(
        f"Ran {report.total} tasks once: {report.succeeded} succeeded, {report.failed} failed "
        f"({by_status}), {len(report.unfinished)} unfinished."
    )
    click.echo(
        f"Wall time {report.wall_time:.2f} s; execution time mean {_seconds(report.mean_time)}, "
        f"p95 {_seconds(report.p95_time)}."
    )
    if report.slowest:
        click.echo("Slowest:")
        for outcome in report.slowest:
            click.echo(
                f"  {_seconds(outcome.duration):>9}  job {outcome.job_id}, task {outcome.task_id} "
                f"{outcome.task_name!r}: {outcome.status}"
                + (f" ({outcome.error})" if outcome.error else "")
            )
    if report.unfinished:
        click.echo(f"Not finished within {timeout:g} s:")
        for outcome in report.unfinished:
            click.echo(
                f"  job {outcome.job_id}, task {outcome.task_id} {outcome.task_name!r}: "
                f"{outcome.status}"
            )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f} s"


def _id_ranges(ids: Sequence[int]) -> str:
    return f"{ids[0]}..{ids[-1]}" if len(ids) > 1 else ", ".join(map(str, ids)) or "none"
