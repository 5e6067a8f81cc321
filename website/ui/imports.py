"""Import: a JSON or JSON Lines file of task bodies, through the batch service, line by line."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flask import render_template, request

from website.auth import current_user
from website.errors import InvalidInput
from website.schemas.task_batches import BATCH_MODES, load_task_items
from website.schemas.task_files import Entry, error_lines, read_task_entries
from website.services.task_batches import TaskItem, create_task_batch
from website.ui.blueprint import bp
from website.ui.session import login_page

__all__: list[str] = []


@dataclass(frozen=True)
class EntryReport:
    """What became of one entry of the file: a new task, or its problems."""

    label: str
    task_id: int | None
    problems: list[str]


def _import(entries: Sequence[Entry], partial: bool) -> tuple[list[EntryReport], str | None]:
    items = [
        TaskItem(errors={"_json": [entry.error]}) if entry.error else item
        for entry, item in zip(entries, load_task_items(e.body for e in entries), strict=True)
    ]
    try:
        batch = create_task_batch(current_user.id, items, partial=partial)
    except InvalidInput as error:
        by_index = error.errors.get("tasks")
        if not isinstance(by_index, Mapping):
            return [], f"Nothing imported: {error.message}."
        reports = [
            EntryReport(entries[int(index)].label, None, list(error_lines(errors)))
            for index, errors in by_index.items()
        ]
        return reports, f"Nothing imported: {len(reports)} of {len(entries)} tasks are invalid."
    reports = [
        EntryReport(entries[result.index].label, result.id, list(error_lines(result.errors or {})))
        for result in batch.results
    ]
    return reports, None


@bp.route("/import", methods=["GET", "POST"])
@login_page
def import_file() -> tuple[str, int]:
    """Upload a file of tasks; see what became of each line."""
    reports: list[EntryReport] = []
    refusal = None
    mode = request.form.get("mode", "all")
    if request.method == "POST":
        upload = request.files.get("file")
        try:
            if upload is None or not upload.filename:
                raise ValueError("choose a file")
            if mode not in BATCH_MODES:
                raise ValueError(f"mode must be one of {', '.join(BATCH_MODES)}")
            entries = read_task_entries(upload.read().decode("utf-8"))
            if not entries:
                raise ValueError("the file holds no task")
        except (ValueError, UnicodeDecodeError) as error:
            refusal = f"Nothing imported: {error}."
        else:
            reports, refusal = _import(entries, partial=mode == "partial")
    page = render_template(
        "import.html",
        reports=reports,
        refusal=refusal,
        mode=mode,
        modes=BATCH_MODES,
        imported=sum(report.task_id is not None for report in reports),
    )
    return page, 422 if refusal else 200
