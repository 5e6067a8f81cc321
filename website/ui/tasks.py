"""The tasks pages: the list, one task (chart, jobs, records, controls), and the task form."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import marshmallow as ma
from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from website.auth import current_user
from website.errors import Conflict, InvalidInput
from website.models import Task, TaskState
from website.schemas.tasks import TASK_SORT_KEYS, TaskQueryArgsSchema
from website.services import cancellation, run_history
from website.services import jobs as job_service
from website.services import tasks as task_service
from website.ui.blueprint import bp
from website.ui.charts import duration_chart, records_chart
from website.ui.forms import form_values, load_task_form, service_errors
from website.ui.session import login_page

__all__: list[str] = []

TASKS_PER_PAGE = 25
JOBS_PER_PAGE = 20
RECORDS_SHOWN = 20  # the first records of the last successful run
CHART_RUNS = 50  # runs in a task's charts
REFRESH_SECONDS = 5  # how often the tasks table is fetched again
_query_schema = TaskQueryArgsSchema()


def _page_number(name: str = "page") -> int:
    text = request.args.get(name, "1")
    return max(int(text), 1) if text.isdigit() else 1


def _page_count(total: int, size: int) -> int:
    return max((total + size - 1) // size, 1)


def _listing() -> tuple[dict[str, Any], int]:
    """The tasks page's rows, their runs and the query they answer (from the query string)."""
    arguments = {name: value for name, value in request.args.items() if value}
    try:
        query = _query_schema.load(arguments)
        errors: dict[str, Any] = {}
    except ma.ValidationError as error:
        query, errors = {"sort": "id"}, error.normalized_messages()
    page = _page_number()
    rows, total = task_service.list_tasks(
        current_user.id,
        page=page,
        page_size=TASKS_PER_PAGE,
        state=query.get("state"),
        name_contains=query.get("q"),
        sort=query["sort"],
    )
    listing = {
        "rows": rows,
        "runs": run_history.recent_runs([row.id for row in rows], current_user.id),
        "total": total,
        "page": page,
        "pages": _page_count(total, TASKS_PER_PAGE),
        "query": query,
        "errors": errors,
    }
    return listing, 422 if errors else 200


@bp.route("/tasks")
@login_page
def tasks() -> tuple[str, int]:
    """Your tasks: state, schedule, last runs and success rate; filtered, sorted, paginated."""
    listing, status = _listing()
    page = render_template(
        "tasks.html",
        states=[state.value for state in TaskState],
        sort_keys=TASK_SORT_KEYS,
        refresh_seconds=REFRESH_SECONDS,
        **listing,
    )
    return page, status


@bp.route("/tasks/table")
@login_page
def tasks_table() -> tuple[str, int]:
    """The tasks page's table alone, for the page's refresh script."""
    listing, status = _listing()
    return render_template("_tasks_table.html", **listing), status


@bp.route("/tasks/<int:task_id>")
@login_page
def task(task_id: int) -> str:
    """One task: its settings, charts of its last runs, its jobs, its records, its controls."""
    found = task_service.get_task(task_id, current_user.id)
    status = job_service.get_task_status(task_id, current_user.id, record_limit=RECORDS_SHOWN)
    jobs_page = _page_number("jobs_page")
    jobs, jobs_total = job_service.list_task_jobs(
        task_id, current_user.id, page=jobs_page, page_size=JOBS_PER_PAGE
    )
    runs = run_history.recent_runs([task_id], current_user.id, limit=CHART_RUNS)[task_id]
    return render_template(
        "task.html",
        task=found,
        status=status,
        jobs=jobs,
        jobs_total=jobs_total,
        jobs_page=jobs_page,
        jobs_pages=_page_count(jobs_total, JOBS_PER_PAGE),
        runs=runs,
        duration=duration_chart(runs.runs),
        records=records_chart(runs.runs),
    )


@bp.route("/tasks/new", methods=["GET", "POST"])
@login_page
def new_task() -> Any:
    """The form for a new task, checked as POST /tasks checks its body."""
    errors: dict[str, Any] = {}
    if request.method == "POST":
        values, errors = load_task_form(request.form, creating=True)
        if values is not None:
            try:
                created = task_service.create_task(current_user.id, values)
            except InvalidInput as error:
                errors = service_errors(error)
            else:
                flash(f"Task {created.name!r} created.", "ok")
                return redirect(url_for("ui.task", task_id=created.id))
    values_shown = form_values(None, request.form if request.method == "POST" else None)
    page = render_template("task_form.html", task=None, values=values_shown, errors=errors)
    return page, 422 if errors else 200


@bp.route("/tasks/<int:task_id>/edit", methods=["GET", "POST"])
@login_page
def edit_task(task_id: int) -> Any:
    """The form for a task's settings, checked as PATCH /tasks/<id> checks its body."""
    found = task_service.get_task(task_id, current_user.id)
    errors: dict[str, Any] = {}
    if request.method == "POST":
        values, errors = load_task_form(request.form, creating=False)
        if values is not None:
            try:
                task_service.update_task(task_id, current_user.id, values)
            except InvalidInput as error:
                errors = service_errors(error)
            else:
                flash("Settings saved.", "ok")
                return redirect(url_for("ui.task", task_id=task_id))
    values_shown = form_values(found, request.form if request.method == "POST" else None)
    page = render_template("task_form.html", task=found, values=values_shown, errors=errors)
    return page, 422 if errors else 200


def _control(task_id: int, action: Callable[[], object], done: str) -> Response:
    """Do one of a task's controls and go back to its page, saying what happened."""
    try:
        action()
    except (Conflict, InvalidInput) as error:
        flash(error.message, "bad")
    else:
        flash(done, "ok")
    return redirect(url_for("ui.task", task_id=task_id))


@bp.route("/tasks/<int:task_id>/run", methods=["POST"])
@login_page
def run_task(task_id: int) -> Response:
    """Queue one run now (as POST /tasks/<id>/run)."""
    return _control(task_id, lambda: task_service.run_task(task_id, current_user.id), "Run queued.")


@bp.route("/tasks/<int:task_id>/pause", methods=["POST"])
@login_page
def pause_task(task_id: int) -> Response:
    """Pause the task."""
    return _control(
        task_id, lambda: task_service.pause_task(task_id, current_user.id), "Task paused."
    )


@bp.route("/tasks/<int:task_id>/resume", methods=["POST"])
@login_page
def resume_task(task_id: int) -> Response:
    """Resume the task."""
    return _control(
        task_id, lambda: task_service.resume_task(task_id, current_user.id), "Task resumed."
    )


@bp.route("/tasks/<int:task_id>/reset-attempt", methods=["POST"])
@login_page
def reset_task_attempt(task_id: int) -> Response:
    """Forget the task's failures; it runs again soon."""
    return _control(
        task_id,
        lambda: task_service.reset_task_attempt(task_id, current_user.id),
        "Attempts reset.",
    )


@bp.route("/tasks/<int:task_id>/cancel", methods=["POST"])
@login_page
def cancel_task_run(task_id: int) -> Response:
    """Cancel the task's queued or running job."""
    return _control(
        task_id,
        lambda: cancellation.cancel_task_run(
            task_id, current_user.id, cancelled_by=current_user.id
        ),
        "Run cancelled.",
    )


@bp.route("/tasks/<int:task_id>/delete", methods=["GET", "POST"])
@login_page
def delete_task(task_id: int) -> Any:
    """Ask, then delete the task with its jobs and data."""
    found: Task = task_service.get_task(task_id, current_user.id)
    if request.method == "GET":
        return render_template("confirm_delete.html", task=found)
    name = found.name
    task_service.delete_task(task_id, current_user.id)
    flash(f"Task {name!r} deleted.", "ok")
    return redirect(url_for("ui.tasks"))
