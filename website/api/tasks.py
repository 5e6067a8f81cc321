"""The task endpoints: create, list, read, change and delete tasks; control them; their status."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from apispec import APISpec
from flask import Config, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from sqlalchemy.engine import Row

from website.api.blueprint import Blueprint
from website.api.etags import (
    ETAG_HEADER,
    IF_MATCH_PARAMETER,
    IF_NONE_MATCH_PARAMETER,
    if_match_precondition,
    with_etag,
)
from website.api.responses import documents_errors, id_segment
from website.auth import current_user, login_required, owner_scope
from website.models import Job, Task
from website.schemas.common import ScopeArgsSchema
from website.schemas.jobs import JobSchema
from website.schemas.task_batches import (
    TaskBatchArgsSchema,
    TaskBatchResultSchema,
    TaskBatchSchema,
)
from website.schemas.task_retries import TaskResetAttemptsSchema, TaskResetResultSchema
from website.schemas.tasks import (
    TaskCreateSchema,
    TaskQueryArgsSchema,
    TaskSchema,
    TaskStatusArgsSchema,
    TaskStatusSchema,
    TaskUpdateSchema,
)
from website.services import cancellation, task_retries
from website.services import jobs as job_service
from website.services import task_batches as batch_service
from website.services import tasks as task_service

__all__ = ["blp", "document_bulk_reset", "document_configured_limits"]

blp = Blueprint(
    "tasks",
    __name__,
    description="Fetch tasks: what to fetch and when, their controls and their status.",
)

TASK_ID = id_segment("task_id")
LOCATION_HEADER = {"Location": {"description": "The new task's URL.", "schema": {"type": "string"}}}
_task_schema = TaskSchema()


@blp.route("/tasks")
class Tasks(MethodView):
    @login_required
    @blp.arguments(TaskQueryArgsSchema, location="query")
    @blp.response(200, TaskSchema(many=True))
    @blp.paginate()
    @documents_errors(blp, 401)
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> Sequence[Row[Any]]:
        """List your tasks.

        Paginated (page, page_size up to 100; metadata in the X-Pagination header), filtered by
        state and by part of the name (q), sorted by sort (a key, or -key for descending).
        """
        tasks, total = task_service.list_tasks(
            owner_scope(args["all"]),
            page=pagination_parameters.page,
            page_size=pagination_parameters.page_size,
            state=args.get("state"),
            name_contains=args.get("q"),
            sort=args["sort"],
        )
        pagination_parameters.item_count = total
        return tasks

    @login_required
    @blp.arguments(TaskCreateSchema)
    @blp.response(201, TaskSchema, headers=LOCATION_HEADER)
    @documents_errors(blp, 400, 401, 413, 415)
    def post(self, values: dict[str, Any]) -> tuple[Task, dict[str, str]]:
        """Create a task.

        parameters may be an object or a JSON-encoded string of one. The first run is at
        start_time, or at once if that has passed. Without task_interval (or with null) the task
        is one-off: it runs once (retried on failure after retry_backoff, 2x, 4x ...), then it is
        completed, or exhausted after max_attempt failures.
        """
        task = task_service.create_task(current_user.id, values)
        return task, {"Location": url_for("tasks.TaskById", task_id=task.id)}


@blp.route("/tasks/batch", methods=["POST"])
@login_required
@blp.arguments(TaskBatchSchema)
@blp.arguments(TaskBatchArgsSchema, location="query")
@blp.response(200, TaskBatchResultSchema)
@documents_errors(blp, 400, 401, 413, 415, 422)
def create_task_batch(body: dict[str, Any], args: dict[str, Any]) -> batch_service.BatchResult:
    """Create many tasks at once.

    Each item is a body POST /tasks accepts, checked the same way; at most MAX_BATCH items, and
    the per-user task limit counts them all. mode=all (the default): one refused item refuses the
    batch with 422, errors keyed by index ({"tasks": {"3": {"url": [...]}}}), and nothing is
    stored. mode=partial: the valid items are stored; each result has the new id or the errors.
    """
    return batch_service.create_task_batch(
        current_user.id, body["tasks"], partial=args["mode"] == "partial"
    )


@blp.route(f"/tasks/{TASK_ID}")
class TaskById(MethodView):
    @login_required
    @with_etag
    @blp.arguments(ScopeArgsSchema, location="query")
    @blp.response(200, TaskSchema, headers={"ETag": ETAG_HEADER})
    @blp.alt_response(304, description="Not modified: If-None-Match matches the ETag.")
    @blp.doc(parameters=[IF_NONE_MATCH_PARAMETER])
    @documents_errors(blp, 401, 404)
    def get(self, args: dict[str, Any], task_id: int) -> Task:
        """Show a task."""
        return task_service.get_task(task_id, owner_scope(args["all"]))

    @login_required
    @with_etag
    @blp.arguments(TaskUpdateSchema)
    @blp.arguments(ScopeArgsSchema, location="query")
    @blp.response(200, TaskSchema, headers={"ETag": ETAG_HEADER})
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @documents_errors(blp, 400, 401, 404, 412, 413, 415)
    def patch(self, changes: dict[str, Any], args: dict[str, Any], task_id: int) -> Task:
        """Change a task.

        Send only the fields to change. A new url, task_interval, start_time or end_time
        reschedules the task (a new url is fetched at once). task_interval null makes it a
        one-off task (completed at once if its last run succeeded). With If-Match, the change is
        made only if the task still has that ETag.
        """
        return task_service.update_task(
            task_id,
            owner_scope(args["all"]),
            changes,
            precondition=if_match_precondition(_task_schema.dump),
        )

    @login_required
    @blp.arguments(ScopeArgsSchema, location="query")
    @blp.response(204)
    @blp.doc(parameters=[IF_MATCH_PARAMETER])
    @documents_errors(blp, 401, 404, 412)
    def delete(self, args: dict[str, Any], task_id: int) -> None:
        """Delete a task with its jobs and data.

        A job still running may finish; its result is discarded.
        """
        task_service.delete_task(
            task_id, owner_scope(args["all"]), precondition=if_match_precondition(_task_schema.dump)
        )


@blp.route(f"/tasks/{TASK_ID}/status")
@login_required
@blp.arguments(TaskStatusArgsSchema, location="query")
@blp.response(200, TaskStatusSchema)
@documents_errors(blp, 401, 404)
def task_status(args: dict[str, Any], task_id: int) -> job_service.TaskStatus:
    """Show how a task's runs are going.

    last_execution_data holds the first limit records of the last successful job, with their
    total. A task that has never run answers with nulls.
    """
    return job_service.get_task_status(
        task_id, owner_scope(args["all"]), record_limit=args["limit"]
    )


@blp.route(f"/tasks/{TASK_ID}/pause", methods=["POST"])
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, TaskSchema)
@documents_errors(blp, 401, 404)
def pause_task(args: dict[str, Any], task_id: int) -> Task:
    """Pause a task: no more runs until it is resumed (a run under way finishes)."""
    return task_service.pause_task(task_id, owner_scope(args["all"]))


@blp.route(f"/tasks/{TASK_ID}/resume", methods=["POST"])
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, TaskSchema)
@documents_errors(blp, 401, 404)
def resume_task(args: dict[str, Any], task_id: int) -> Task:
    """Resume a paused task: a run missed while paused happens at once, then the schedule."""
    return task_service.resume_task(task_id, owner_scope(args["all"]))


@blp.route(f"/tasks/{TASK_ID}/reset-attempt", methods=["POST"])
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, TaskSchema)
@documents_errors(blp, 401, 404)
def reset_task_attempt(args: dict[str, Any], task_id: int) -> Task:
    """Reset a task's failure count, reviving an exhausted task; it runs again soon."""
    return task_service.reset_task_attempt(task_id, owner_scope(args["all"]))


@blp.route("/tasks/reset-attempt", methods=["POST"])
@login_required
@blp.arguments(TaskResetAttemptsSchema)
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, TaskResetResultSchema)
@documents_errors(blp, 400, 401, 404, 413, 415)
def reset_task_attempts(values: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """Reset the failure count of many tasks: those in ids, or every exhausted one (state).

    All or nothing: an id that is not one of your tasks is a 404 naming it, and nothing is
    reset. Answers the count and the ids reset.
    """
    ids = task_retries.reset_attempts(
        owner_scope(args["all"]),
        ids=values.get("ids"),
        exhausted=values.get("state") == "exhausted",
    )
    return {"count": len(ids), "ids": ids}


@blp.route(f"/tasks/{TASK_ID}/cancel", methods=["POST"])
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(200, JobSchema)
@documents_errors(blp, 401, 404, 409)
def cancel_task_run(args: dict[str, Any], task_id: int) -> Job:
    """Cancel the task's queued or running job (409 when it has none).

    As POST /jobs/{job_id}/cancel: no data stored, no failed attempt, the schedule goes on.
    """
    return cancellation.cancel_task_run(
        task_id, owner_scope(args["all"]), cancelled_by=current_user.id
    )


@blp.route(f"/tasks/{TASK_ID}/run", methods=["POST"])
@login_required
@blp.arguments(ScopeArgsSchema, location="query")
@blp.response(202, JobSchema)
@documents_errors(blp, 401, 404, 409)
def run_task(args: dict[str, Any], task_id: int) -> Job:
    """Queue one run of a task now, outside its schedule.

    One run at a time: 409 while a run of the task is queued or running.
    """
    return task_service.run_task(task_id, owner_scope(args["all"]))


def document_configured_limits(spec: APISpec, config: Config) -> None:
    """Show this deployment's task limits in the spec (the schemas only know the outer bounds).

    Call after the blueprint is registered, when the task schemas are components of the spec.
    """
    for component in ("TaskCreate", "TaskUpdate"):
        properties = spec.components.schemas[component]["properties"]
        properties["task_interval"]["minimum"] = config["MIN_TASK_INTERVAL"]
        properties["task_interval"]["maximum"] = config["MAX_TASK_INTERVAL"]
        properties["max_execution_time"]["maximum"] = config["MAX_EXECUTION_TIME"]
    spec.components.schemas["TaskBatch"]["properties"]["tasks"]["maxItems"] = config["MAX_BATCH"]


def document_bulk_reset(spec: APISpec) -> None:
    """The bulk reset's body takes exactly one of ids and state: say so in its schema.

    Call after the blueprint is registered, when the schema is a component of the spec.
    """
    schema = spec.components.schemas["TaskResetAttempts"]
    schema["oneOf"] = [{"required": ["ids"]}, {"required": ["state"]}]
