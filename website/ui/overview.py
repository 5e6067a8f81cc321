"""The overview: tasks by state, and the success rate and p95 of the last hour and day."""

from __future__ import annotations

from flask import render_template

from website.auth import current_user
from website.models import TaskState
from website.services.stats import collect_stats
from website.ui.blueprint import bp
from website.ui.session import login_page

__all__: list[str] = []

HOUR = 3600
DAY = 24 * HOUR
REFRESH_SECONDS = 10  # how often the overview's numbers are fetched again


def _numbers() -> dict[str, object]:
    return {
        "states": [state.value for state in TaskState],
        "hour": collect_stats(current_user.id, HOUR),
        "day": collect_stats(current_user.id, DAY),
    }


@bp.route("/")
@login_page
def overview() -> str:
    """Counts by state and the last hour's and day's runs, refreshed in place."""
    return render_template("overview.html", refresh_seconds=REFRESH_SECONDS, **_numbers())


@bp.route("/overview/numbers")
@login_page
def overview_numbers() -> str:
    """The overview's numbers alone, for the page's refresh script."""
    return render_template("_overview_numbers.html", **_numbers())
