"""The web dashboard at /ui/: server-rendered pages over the same services as the API."""

from __future__ import annotations

from flask import Flask

from website.ui.blueprint import bp

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    """Serve the dashboard when UI_ENABLED is on (the default in development)."""
    if not app.config["UI_ENABLED"]:
        return
    from website.ui import admin, failures, imports, overview, session, tasks  # noqa: F401

    app.register_blueprint(bp)
