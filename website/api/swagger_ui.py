"""Swagger UI at /swagger-ui, served offline: its assets come from the swagger-ui-bundle package."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, send_from_directory
from swagger_ui_bundle import swagger_ui_path

__all__ = ["ASSETS_URL", "SWAGGER_UI_PATH", "init_app"]

SWAGGER_UI_PATH = "/swagger-ui"
ASSETS_URL = f"{SWAGGER_UI_PATH}/assets/"
ASSETS_MAX_AGE = 24 * 3600  # seconds browsers may cache the (versioned) assets
SWAGGER_UI_CONFIG = {
    "persistAuthorization": True,  # the token survives a page reload
    "displayRequestDuration": True,
    "docExpansion": "list",
}

blp = Blueprint("swagger_ui_assets", __name__, url_prefix=ASSETS_URL.rstrip("/"))


@blp.get("/<path:filename>")
def asset(filename: str) -> Response:
    """One Swagger UI asset (script, style sheet, source map) from the installed bundle."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=ASSETS_MAX_AGE)


def init_app(app: Flask) -> None:
    """Point flask-smorest's Swagger UI page at the local assets; call before ``api.init_app``."""
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", SWAGGER_UI_PATH)
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", ASSETS_URL)
    app.config.setdefault("OPENAPI_SWAGGER_UI_CONFIG", SWAGGER_UI_CONFIG)
    app.register_blueprint(blp)
