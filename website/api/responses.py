"""Documented responses shared by the task and job endpoints: path ids and error outcomes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import flask_smorest
from flask_smorest.error_handler import ErrorSchema

__all__ = ["ERROR_DESCRIPTIONS", "MAX_ID", "documents_errors", "id_segment"]

F = TypeVar("F", bound=Callable[..., Any])

MAX_ID = 2**31 - 1  # ids are INTEGER columns: a larger id in a path can only be a 404

ERROR_DESCRIPTIONS = {
    400: "Malformed JSON body.",
    401: "Missing, invalid, expired or revoked token.",
    404: "No such object among yours.",
    409: "Conflicts with the current state: a run of the task already queued or running (run), "
    "or no run to cancel, or a job already finished (cancel).",
    412: "If-Match does not match: the task changed since you read it.",
    413: "The body is larger than MAX_CONTENT_LENGTH.",
    415: "The body is not JSON (Content-Type: application/json).",
    422: "Invalid input; errors names each refused field.",
}


def id_segment(name: str) -> str:
    """A path segment for a database id, e.g. ``<int(max=...):task_id>``."""
    return f"<int(max={MAX_ID}):{name}>"


def documents_errors(blp: flask_smorest.Blueprint, *codes: int) -> Callable[[F], F]:
    """Document each error status an operation can answer, in the API's error format."""

    def decorate(view: F) -> F:
        for code in codes:
            view = blp.alt_response(code, schema=ErrorSchema, description=ERROR_DESCRIPTIONS[code])(
                view
            )
        return view

    return decorate
