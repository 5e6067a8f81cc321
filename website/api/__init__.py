"""The HTTP API: one flask-smorest blueprint per resource."""

from __future__ import annotations

from flask import Flask

from website.auth import BEARER_SCHEME, PASSWORD_FLOW_SCHEME
from website.extensions import api

__all__ = ["init_app"]


def init_app(app: Flask) -> None:
    from website.api import (
        api_keys,
        auth,
        demo,
        examples,
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
    app.config.setdefault("API_SPEC_OPTIONS", examples.spec_options())
    api.init_app(app)
    # Swagger UI's Authorize button; operations opt in with website.auth.login_required.
    api.spec.components.security_scheme(
        BEARER_SCHEME,
        {
            "type": "http",
            "scheme": "bearer",
            "description": "An access token (from /login or /token) or an API key (chk_...).",
        },
    )
    api.spec.components.security_scheme(
        PASSWORD_FLOW_SCHEME,
        {
            "type": "oauth2",
            "description": "Your username and password; Swagger UI trades them at /token.",
            "flows": {"password": {"tokenUrl": "/token", "scopes": {}}},
        },
    )
    for module in (health, auth, users, api_keys, tasks, jobs, webhooks, stats, metrics):
        api.register_blueprint(module.blp)
    tasks.document_configured_limits(api.spec, app.config)
    tasks.document_bulk_reset(api.spec)
    examples.document_examples(api.spec, app.config)
    if app.config["DEMO_FEED"]:
        app.register_blueprint(demo.blp)
