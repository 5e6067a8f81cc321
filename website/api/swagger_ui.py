"""Swagger UI at /swagger-ui, served offline: its assets come from the swagger-ui-bundle package."""

from __future__ import annotations

import base64
import hashlib
import re

from flask import Blueprint, Flask, Response, request, send_from_directory
from swagger_ui_bundle import swagger_ui_path

__all__ = ["ASSETS_URL", "SWAGGER_UI_PATH", "content_security_policy", "init_app"]

SWAGGER_UI_PATH = "/swagger-ui"
ASSETS_URL = f"{SWAGGER_UI_PATH}/assets/"
ASSETS_MAX_AGE = 24 * 3600  # seconds browsers may cache the (versioned) assets
SWAGGER_UI_CONFIG = {
    "persistAuthorization": True,  # the token survives a page reload
    "displayRequestDuration": True,
    "docExpansion": "list",
}

# The page keeps the bearer token in localStorage (persistAuthorization): it may run the app's
# own scripts and its own start-up script only, fetch from the app only, and never be framed.
PAGE_POLICY = (
    "default-src 'none'",
    "script-src 'self' {inline_scripts}",
    "style-src 'self'",
    "img-src 'self' data:",  # Swagger UI's icons are data: URLs
    "connect-src 'self'",  # the spec and "Try it out"
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)

blp = Blueprint("swagger_ui_assets", __name__, url_prefix=ASSETS_URL.rstrip("/"))


@blp.get("/<path:filename>")
def asset(filename: str) -> Response:
    """One Swagger UI asset (script, style sheet, source map) from the installed bundle."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=ASSETS_MAX_AGE)


def content_security_policy(page: str) -> str:
    """The page's policy: its inline scripts (flask-smorest's start-up script) by their hash."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in INLINE_SCRIPT.findall(page)
    )
    return "; ".join(PAGE_POLICY).format(inline_scripts=hashes)


def _protect_page(response: Response) -> Response:
    if request.path == SWAGGER_UI_PATH and response.mimetype == "text/html":
        page = response.get_data(as_text=True)
        response.headers["Content-Security-Policy"] = content_security_policy(page)
    return response


def init_app(app: Flask) -> None:
    """Point flask-smorest's Swagger UI page at the local assets; call before ``api.init_app``."""
    app.config.setdefault("OPENAPI_SWAGGER_UI_PATH", SWAGGER_UI_PATH)
    app.config.setdefault("OPENAPI_SWAGGER_UI_URL", ASSETS_URL)
    app.config.setdefault("OPENAPI_SWAGGER_UI_CONFIG", SWAGGER_UI_CONFIG)
    app.register_blueprint(blp)
    app.after_request(_protect_page)
