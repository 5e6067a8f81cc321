"""Liveness and readiness probes."""

from __future__ import annotations

from flask import Response, jsonify

from website.api.blueprint import Blueprint
from website.errors import error_response
from website.services.health import unavailable_dependencies

blp = Blueprint("health", __name__, description="Liveness and readiness probes")


@blp.route("/healthz")
@blp.doc(security=[])
def healthz() -> Response:
    """Liveness: the process answers."""
    return jsonify(status="ok")


@blp.route("/readyz")
@blp.doc(security=[])
def readyz() -> Response:
    """Readiness: the database and Redis are reachable."""
    down = unavailable_dependencies()
    if down:
        return error_response(
            503, f"Unavailable: {', '.join(down)}", dict.fromkeys(down, "unreachable")
        )
    return jsonify(status="ready")
