"""Logging for web, worker and beat: plain lines in development, one JSON object per line else.

Every record can carry ``task_id``, ``job_id`` and ``user_id`` (pass them with ``extra=``); a
request's records also get its ``request_id`` and the caller's ``user_id``. Celery worker and beat
(through ``configure_logging``) and gunicorn (``GunicornLogger``) write through the same
formatter, so every process of a deployment logs the same way.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request
from flask_jwt_extended import get_jwt
from gunicorn.glogging import Logger as BaseGunicornLogger

from website.config import log_settings

__all__ = [
    "ContextFilter",
    "GunicornLogger",
    "JsonFormatter",
    "TextFormatter",
    "configure_logging",
    "current_request_id",
    "init_app",
]

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# The ids a text line ends with, when the record has them (the request id would only be noise).
TEXT_CONTEXT_FIELDS = ("task_id", "job_id", "user_id")
REQUEST_ID_HEADER = "X-Request-ID"
# A caller's request id is echoed only when it is short and plain (it ends up in log lines).
ACCEPTED_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Where a request's ids wait in the WSGI environ for gunicorn's access log line.
ENVIRON_REQUEST_ID = "challenge.request_id"
ENVIRON_USER_ID = "challenge.user_id"
# Ids are numbers in every line, even when a caller passed one as a string (a JWT's "sub").
ID_FIELDS = frozenset({"task_id", "job_id", "user_id"})
# The attributes every LogRecord has; anything else on a record came from ``extra=``.
STANDARD_RECORD_FIELDS = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", (), None)).keys()
) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message and every ``extra=`` field."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        for name, value in vars(record).items():
            if name in STANDARD_RECORD_FIELDS or value is None:
                continue
            if name in ID_FIELDS and isinstance(value, str) and value.isdigit():
                value = int(value)
            entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """A plain line for people, ending with the ids the record carries: ``[task_id=4 job_id=9]``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        ids = [
            f"{name}={getattr(record, name)}"
            for name in TEXT_CONTEXT_FIELDS
            if getattr(record, name, None) is not None
        ]
        if not ids:
            return line
        first, newline, rest = line.partition("\n")  # keep a traceback below the ids
        return f"{first} [{' '.join(ids)}]{newline}{rest}"


class ContextFilter(logging.Filter):
    """Adds the current request's ids to every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if has_request_context():
            if getattr(record, "request_id", None) is None:
                record.request_id = g.get("request_id")
            if getattr(record, "user_id", None) is None:
                record.user_id = _request_user_id()
        return True


def _request_user_id() -> int | None:
    """The id of the user whose token the request carried, once it has been verified."""
    try:
        subject = get_jwt().get("sub")
    except RuntimeError:  # no token was verified for this request (maybe an API key was)
        user_id: int | None = g.get("api_key_user_id")  # see website.auth.API_KEY_USER_ID
        return user_id
    return int(subject) if isinstance(subject, str) and subject.isdigit() else None


NOISY_LOGGERS = ("httpx", "httpcore")  # libraries whose INFO lines would leak task URLs


def configure_logging(level: str, fmt: str, *context: logging.Filter) -> None:
    """Send every record of this process to stderr through one handler, text or JSON.

    ``context`` filters add more ids to each record (a worker adds its Celery task's).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    for context_filter in (ContextFilter(), *context):
        handler.addFilter(context_filter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # httpx logs every request line at INFO, query string included: task URLs may carry API keys.
    for chatty in NOISY_LOGGERS:
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)  # Python warnings become records too, not raw stderr text


def current_request_id() -> str | None:
    """The id of the request being served, if any (also sent back as ``X-Request-ID``)."""
    return g.get("request_id") if has_request_context() else None


def _assign_request_id() -> None:
    offered = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = offered if ACCEPTED_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def _expose_request_ids(response: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        response.headers[REQUEST_ID_HEADER] = request_id
        request.environ[ENVIRON_REQUEST_ID] = request_id
    request.environ[ENVIRON_USER_ID] = _request_user_id()
    return response


def init_app(app: Flask) -> None:
    if not app.testing:
        configure_logging(app.config["LOG_LEVEL"], app.config["LOG_FORMAT"])
    app.before_request(_assign_request_id)
    app.after_request(_expose_request_ids)


class GunicornLogger(BaseGunicornLogger):
    """Gunicorn's own and access log lines, as JSON when LOG_FORMAT is json.

    Use with ``gunicorn --logger-class website.log.GunicornLogger``. An access line carries the
    request's id and the caller's user id, which the app leaves in the WSGI environ.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.json = log_settings()["LOG_FORMAT"] == "json"
        if self.json:
            for handler in (*self.error_log.handlers, *self.access_log.handlers):
                handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.json:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        status = str(resp.status).split(None, 1)[0]
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "status": int(status) if status.isdigit() else status,
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR"),
            "user_agent": environ.get("HTTP_USER_AGENT"),
            "request_id": environ.get(ENVIRON_REQUEST_ID),
            "user_id": environ.get(ENVIRON_USER_ID),
        }
        self.access_log.info(
            "%s %s %s", fields["method"], fields["path"], fields["status"], extra=fields
        )
