"""The job endpoints: a task's runs, one run, and the records they brought back."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_smorest.pagination import PaginationParameters

from website.api.blueprint import Blueprint
from website.api.responses import documents_errors, id_segment
from website.auth import current_user, login_required, owner_scope
from website.models import Data, Job
from website.schemas.common import ScopeArgsSchema
from website.schemas.jobs import DataSchema, JobListArgsSchema, JobQueryArgsSchema, JobSchema
from website.services import cancellation
from website.services import jobs as job_service

__all__ = ["blp"]

blp = Blueprint("jobs", __name__, description="Jobs (the runs of a task) and their records.")

TASK_ID = id_segment("task_id")
JOB_ID = id_segment("job_id")


@blp.route(f"/tasks/{TASK_ID}/jobs")
@login_required
@blp.arguments(JobQueryArgsSchema, location="query")
@blp.response(200, JobSchema(many=True))
@blp.paginate()
@documents_errors(blp, 401, 404)
def list_task_jobs(
    args: dict[str, Any], task_id: int, pagination_parameters: PaginationParameters
) -> Sequence[Job]:
    """List a task's jobs, newest first, optionally of one status."""
    jobs, total = job_service.list_task_jobs(
        task_id,
        owner_scope(args["all"]),
        page=pagination_parameters.page,
        page_size=pagination_parameters.page_size,
        status=args.get("status"),
    )
    pagination_parameters.item_count = total
    return jobs


@blp.route(f"/tasks/{TASK_ID}/data")
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, DataSchema(many=True))
@blp.paginate()
@documents_errors(blp, 401, 404)
def list_task_data(
    args: dict[str, Any], task_id: int, pagination_parameters: PaginationParameters
) -> Sequence[Data]:
    """List a task's current records: those of its last successful job (none before one)."""
    rows, total = job_service.list_task_data(
        task_id,
        owner_scope(args["all"]),
        page=pagination_parameters.page,
        page_size=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = total
    return rows


@blp.route("/jobs")
@login_required
@blp.arguments(JobListArgsSchema, location="query")
@blp.response(200, JobSchema(many=True))
@blp.paginate()
@documents_errors(blp, 401)
def list_jobs(args: dict[str, Any], pagination_parameters: PaginationParameters) -> Sequence[Job]:
    """List the jobs of all your tasks, newest first.

    Filtered by status (repeat it: status=failed&status=timed_out&status=lost is the dead-letter
    view), task_id, and since/until on the time each job was queued. Admins see every user's
    jobs with scope=all (or all=1).
    """
    jobs, total = job_service.list_jobs(
        owner_scope(args["all"] or args["scope"] == "all"),
        page=pagination_parameters.page,
        page_size=pagination_parameters.page_size,
        statuses=args.get("status") or (),
        task_id=args.get("task_id"),
        since=args.get("since"),
        until=args.get("until"),
    )
    pagination_parameters.item_count = total
    return jobs


@blp.route(f"/jobs/{JOB_ID}/cancel", methods=["POST"])
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, JobSchema)
@documents_errors(blp, 401, 404, 409)
def cancel_job(args: dict[str, Any], job_id: int) -> Job:
    """Cancel a queued or running job.

    A queued job never runs; a running one is interrupted (or its result discarded). It stores
    no data and counts no failed attempt; the task's schedule goes on. 409 for a finished job;
    cancelling a cancelled job answers it again.
    """
    return cancellation.cancel_job(job_id, owner_scope(args["all"]), cancelled_by=current_user.id)


@blp.route(f"/jobs/{JOB_ID}")
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, JobSchema)
@documents_errors(blp, 401, 404)
def get_job(args: dict[str, Any], job_id: int) -> Job:
    """Show a job."""
    return job_service.get_job(job_id, owner_scope(args["all"]))


@blp.route(f"/jobs/{JOB_ID}/data")
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, DataSchema(many=True))
@blp.paginate()
@documents_errors(blp, 401, 404)
def list_job_data(
    args: dict[str, Any], job_id: int, pagination_parameters: PaginationParameters
) -> Sequence[Data]:
    """List the records a job brought back, in the order of the response."""
    rows, total = job_service.list_job_data(
        job_id,
        owner_scope(args["all"]),
        page=pagination_parameters.page,
        page_size=pagination_parameters.page_size,
    )
    pagination_parameters.item_count = total
    return rows
