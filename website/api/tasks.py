"""The tasks endpoints."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("tasks", __name__, description="Tasks")
