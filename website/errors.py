"""Domain errors raised by services, and the one place that turns errors into JSON responses.

Every error the API returns has the same shape: ``{"code", "status", "message", "errors"}``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, jsonify
from redis.exceptions import RedisError
from werkzeug.exceptions import HTTPException

__all__ = [
    "Conflict",
    "DomainError",
    "Forbidden",
    "InvalidInput",
    "NotFound",
    "PreconditionFailed",
    "Unauthorized",
    "error_response",
    "init_app",
]

logger = logging.getLogger(__name__)


class DomainError(Exception):
    """A service refused a request; ``status`` is the HTTP status the API answers with."""

    status = HTTPStatus.BAD_REQUEST

    def __init__(self, message: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class InvalidInput(DomainError):
    status = HTTPStatus.UNPROCESSABLE_ENTITY


class Unauthorized(DomainError):
    status = HTTPStatus.UNAUTHORIZED


class Forbidden(DomainError):
    status = HTTPStatus.FORBIDDEN


class NotFound(DomainError):
    status = HTTPStatus.NOT_FOUND


class Conflict(DomainError):
    status = HTTPStatus.CONFLICT


class PreconditionFailed(DomainError):
    status = HTTPStatus.PRECONDITION_FAILED


def error_response(
    code: int, message: str | None = None, errors: dict[str, Any] | None = None
) -> Response:
    """A JSON error in the API's format."""
    status = HTTPStatus(code)
    response = jsonify(
        code=status.value,
        status=status.phrase,
        message=message or status.description,
        errors=errors or {},
    )
    response.status_code = status.value
    return response


def _handle_domain_error(error: DomainError) -> Response:
    return error_response(error.status, error.message, error.errors)


def _handle_http_exception(error: HTTPException) -> Response:
    code = error.code or 500
    data = getattr(error, "data", None) or {}
    # webargs/flask-smorest put field errors in data["messages"], keyed by location.
    errors = data.get("messages") or data.get("errors") or {}
    locations = {"json", "query", "headers", "files", "form"}
    if isinstance(errors, dict) and len(errors) == 1 and set(errors) <= locations:
        errors = next(iter(errors.values()))
    message = data.get("message") or error.description
    if code == 422 and errors and not data.get("message"):
        fields = ", ".join(sorted(str(key) for key in errors)) if isinstance(errors, dict) else ""
        message = f"Invalid input: {fields}" if fields else "Invalid input"
    response = error_response(code, message, errors if isinstance(errors, dict) else {})
    for name, value in getattr(error, "get_headers", lambda: [])() or []:
        if name.lower() not in {"content-type", "content-length"}:
            response.headers[name] = value
    return response


def _handle_redis_unavailable(error: RedisError) -> Response:
    # Rate limits and the token blocklist live in Redis: without it, fail closed but politely.
    logger.warning("redis unavailable: %s", error)
    return error_response(503, "A required service is unavailable, try again shortly")


def _handle_unexpected(error: Exception) -> Response:
    logger.exception("unhandled error: %s", error)
    return error_response(500, "Internal server error")


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(RedisError, _handle_redis_unavailable)
    app.register_error_handler(Exception, _handle_unexpected)
