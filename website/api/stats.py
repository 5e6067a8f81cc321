"""GET /stats: the caller's task states, job outcomes and execution times (admins: everyone's)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from website.api.blueprint import Blueprint
from website.auth import login_required, owner_scope
from website.schemas.stats import StatsQueryArgsSchema, StatsSchema
from website.services.stats import Stats, collect_stats

__all__ = ["blp"]

blp = Blueprint("stats", __name__, description="Statistics of tasks and jobs")


@blp.route("/stats")
@login_required
# Unknown query parameters are refused: a misspelt ?window must not silently mean a day.
@blp.arguments(StatsQueryArgsSchema, location="query", unknown=ma.RAISE)
@blp.response(200, StatsSchema)
def stats(args: dict[str, Any]) -> Stats:
    """Tasks by state; jobs by status, success rate and execution time over a window."""
    return collect_stats(owner_scope(args["all"]), args["window"])
