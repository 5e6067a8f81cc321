"""GET /metrics: Prometheus metrics for the whole deployment, whichever process answers."""

from __future__ import annotations

from flask import Response, request

from website.api.blueprint import Blueprint
from website.services.monitoring import render_metrics

__all__ = ["blp"]

blp = Blueprint("metrics", __name__, description="Prometheus metrics")

TEXT_RESPONSE = {
    "description": "Prometheus text exposition (OpenMetrics when the Accept header asks for it)",
    "content": {
        "text/plain": {"schema": {"type": "string"}},
        "application/openmetrics-text": {"schema": {"type": "string"}},
    },
}


@blp.route("/metrics")
@blp.doc(security=[], responses={"200": TEXT_RESPONSE})
def metrics() -> Response:
    """Jobs, tasks, queue depth, fetch time, dispatch lag and HTTP requests, for Prometheus."""
    body, content_type = render_metrics(request.headers.get("Accept", ""))
    return Response(body, content_type=content_type)
