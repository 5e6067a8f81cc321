"""The dashboard's blueprint: its headers, its error pages and what every template may use."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, g, render_template

from website.database import utcnow
from website.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound

__all__ = ["CONTENT_SECURITY_POLICY", "bp", "error_page"]

bp = Blueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

# Scripts and styles from our own static files only (no inline ones, no CDN); no frames, and
# forms post back to us only.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
# Pages carry the session's CSRF value and the user's data: no cache keeps them.
NO_STORE = "no-store"

# Seconds per unit, largest first, for "in 3 min" / "2 h ago".
TIME_UNITS = (("d", 86400), ("h", 3600), ("min", 60), ("s", 1))
FAILED_STATUSES = frozenset({"failed", "timed_out", "lost"})


@bp.after_request
def _page_headers(response: Response) -> Response:
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value
    if response.mimetype == "text/html":
        response.headers["Cache-Control"] = NO_STORE
    return response


def error_page(status: int, title: str, message: str) -> tuple[str, int]:
    """An error as a page of the dashboard."""
    return render_template("error.html", status=status, title=title, message=message), status


@bp.errorhandler(NotFound)
def _not_found(error: NotFound) -> tuple[str, int]:
    return error_page(404, "Not found", error.message)


@bp.errorhandler(Forbidden)
def _forbidden(error: Forbidden) -> tuple[str, int]:
    return error_page(403, "Forbidden", error.message)


@bp.errorhandler(Conflict)
def _conflict(error: Conflict) -> tuple[str, int]:
    return error_page(409, "Not now", error.message)


@bp.errorhandler(InvalidInput)
@bp.errorhandler(DomainError)
def _refused(error: DomainError) -> tuple[str, int]:
    return error_page(int(error.status), "Refused", error.message)


@bp.app_template_filter("relative")
def relative_time(moment: datetime | None, now: datetime | None = None) -> str:
    """``moment`` from now, in the largest whole unit: "in 12 s", "3 min ago", "now"."""
    if moment is None:
        return "—"
    seconds = round((moment - (now or utcnow())).total_seconds())
    if seconds == 0:
        return "now"
    for unit, size in TIME_UNITS:
        if abs(seconds) >= size:
            amount = abs(seconds) // size
            return f"in {amount} {unit}" if seconds > 0 else f"{amount} {unit} ago"
    return "now"


@bp.app_template_filter("seconds")
def seconds_text(value: float | None) -> str:
    """A duration for people: "85 ms", "1.24 s", "—" when unknown."""
    if value is None:
        return "—"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    return f"{value:.2f} s"


@bp.app_template_filter("interval")
def interval_text(seconds: int | None) -> str:
    """A task's interval: "once" for a one-off task, else "every 30 s" / "every 2 h"."""
    if seconds is None:
        return "once"
    for unit, size in TIME_UNITS:
        if seconds >= size and seconds % size == 0:
            return f"every {seconds // size} {unit}"
    return f"every {seconds} s"


@bp.app_template_filter("percent")
def percent_text(rate: float | None) -> str:
    return "—" if rate is None else f"{rate * 100:.0f}%"


@bp.app_template_filter("pretty_json")
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


@bp.app_template_filter("messages")
def messages(errors: Any) -> list[str]:
    """A field's messages as lines of text, whether the schema gave a list or nested fields."""
    if isinstance(errors, str):
        return [errors]
    if isinstance(errors, dict):
        return [f"{name}: {line}" for name, inner in errors.items() for line in messages(inner)]
    if isinstance(errors, list | tuple):
        return [line for inner in errors for line in messages(inner)]
    return [str(errors)]


@bp.app_template_filter("isotime")
def iso_time(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat(timespec="seconds")


@bp.app_template_global("run_kind")
def run_kind(status: str | None) -> str:
    """The CSS class of a run's outcome: ok, bad or other (the text says it too)."""
    if status == "succeeded":
        return "ok"
    if status in FAILED_STATUSES:
        return "bad"
    return "other"


@bp.context_processor
def _page_context() -> dict[str, Any]:
    return {"csrf_token": g.get("ui_csrf", ""), "viewer": g.get("ui_viewer")}
