"""The HTTP API: one flask-smorest blueprint per resource."""

from __future__ import annotations

from flask import Flask

from website.auth import BEARER_SCHEME
from website.extensions import api

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    from website.api import (
        auth,
        demo,
        health,
        jobs,
        metrics,
        security_headers,
        stats,
        swagger_ui,
        tasks,
        users,
        webhooks,
    )

    security_headers.init_app(app)
    swagger_ui.init_app(app)  # before api.init_app, which reads its settings
    api.init_app(app)
    # Swagger UI's Authorize button; operations opt in with website.auth.login_required.
    api.spec.components.security_scheme(
        BEARER_SCHEME, {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    )
    for module in (health, auth, users, tasks, jobs, webhooks, stats, metrics):
        api.register_blueprint(module.blp)
    tasks.document_configured_limits(api.spec, app.config)
    if app.config["DEMO_FEED"]:
        app.register_blueprint(demo.blp)
