"""Domain errors raised by services, and the one place that turns errors into JSON responses.

Every error the API returns has the same shape: ``{"code", "status", "message", "errors"}``.
"""

from __future__ import annotations

import logging
import sqlite3
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, current_app, jsonify
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from website.burst_log import BurstLog

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
    "is_database_unavailable",
    "report_database_unavailable",
]

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5  # what a 503 tells clients to wait: about one connect timeout
# An outage fails every request: the first failure is logged, then one line a minute with a count.
DATABASE_UNAVAILABLE_LOG_INTERVAL_SECONDS = 60.0
# SQLite's result codes (the primary ones) that mean "cannot serve now", not "bad statement".
SQLITE_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,  # another process held the write lock past the busy timeout
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,  # the file or its folder is not writable
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,  # "unable to open database file"
        sqlite3.SQLITE_PROTOCOL,
    }
)


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


def _service_unavailable(message: str) -> Response:
    response = error_response(503, message)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _handle_redis_unavailable(error: RedisError) -> Response:
    # Rate limits and the token blocklist live in Redis: without it, fail closed but politely.
    logger.warning("redis unavailable: %s", error)
    return _service_unavailable("A required service is unavailable, try again shortly")


def is_database_unavailable(error: BaseException) -> bool:
    """True for a database that cannot serve now (down, silent, busy), not for a bad statement."""
    if isinstance(error, PoolTimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, OperationalError):
        return False
    if isinstance(error.orig, sqlite3.OperationalError):  # also SQLite's syntax errors
        return error.orig.sqlite_errorcode & 0xFF in SQLITE_UNAVAILABLE_CODES
    # PostgreSQL's: refused, lost or timed-out connections, cancelled statements, shutdowns.
    return True


def report_database_unavailable(error: BaseException) -> None:
    """Log a database outage: one warning per burst of failures, not one per request."""
    burst: BurstLog = current_app.extensions["database_unavailable_log"]
    # The first line names the driver's error; the rest is the SQL and a link to SQLAlchemy's docs.
    burst.warning("database unavailable: %s", str(error).partition("\n")[0])


def _handle_database_error(error: SQLAlchemyError) -> Response:
    if not is_database_unavailable(error):
        return _handle_unexpected(error)
    report_database_unavailable(error)
    return _service_unavailable("Database unavailable, try again shortly")


def _handle_unexpected(error: Exception) -> Response:
    logger.exception("unhandled error: %s", error)
    return error_response(500, "Internal server error")


def init_app(app: Flask) -> None:
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(RedisError, _handle_redis_unavailable)
    app.extensions["database_unavailable_log"] = BurstLog(
        logger, DATABASE_UNAVAILABLE_LOG_INTERVAL_SECONDS
    )
    app.register_error_handler(SQLAlchemyError, _handle_database_error)
    app.register_error_handler(Exception, _handle_unexpected)
