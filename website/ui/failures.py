"""Failures: the dead letters of every task of yours, and a retry of every exhausted task."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from website.auth import current_user
from website.models import JobStatus, TaskState
from website.services import jobs as job_service
from website.services import task_retries
from website.services import tasks as task_service
from website.ui.blueprint import bp
from website.ui.session import login_page

__all__: list[str] = []

DEAD_LETTER_STATUSES = (JobStatus.FAILED, JobStatus.TIMED_OUT, JobStatus.LOST)
JOBS_PER_PAGE = 25
EXHAUSTED_SHOWN = 100  # exhausted tasks listed above the dead letters


@bp.route("/failures")
@login_page
def failures() -> str:
    """Failed, timed out and lost jobs (as GET /jobs?status=...), newest first; exhausted tasks."""
    text = request.args.get("page", "1")
    page = max(int(text), 1) if text.isdigit() else 1
    jobs, total = job_service.list_jobs(
        current_user.id,
        page=page,
        page_size=JOBS_PER_PAGE,
        statuses=[status.value for status in DEAD_LETTER_STATUSES],
    )
    exhausted, exhausted_total = task_service.list_tasks(
        current_user.id, page=1, page_size=EXHAUSTED_SHOWN, state=TaskState.EXHAUSTED.value
    )
    return render_template(
        "failures.html",
        jobs=jobs,
        total=total,
        page=page,
        pages=max((total + JOBS_PER_PAGE - 1) // JOBS_PER_PAGE, 1),
        exhausted=exhausted,
        exhausted_total=exhausted_total,
    )


@bp.route("/failures/retry", methods=["POST"])
@login_page
def retry_exhausted() -> Response:
    """Reset the attempts of every exhausted task (as POST /tasks/reset-attempt)."""
    reset = task_retries.reset_attempts(current_user.id, exhausted=True)
    flash(f"{len(reset)} exhausted task(s) will run again soon.", "ok")
    return redirect(url_for("ui.failures"))
