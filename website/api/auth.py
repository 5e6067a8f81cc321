"""The auth endpoints."""

from __future__ import annotations

from flask_smorest import Blueprint

blp = Blueprint("auth", __name__, description="Auth")
