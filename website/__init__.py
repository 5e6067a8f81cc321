"""The Flask application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dotenv import find_dotenv, load_dotenv
from flask import Flask
from flask.helpers import get_load_dotenv

from website.jsonio import JSONProvider

__all__ = ["create_app"]

API_TITLE = "challenge"
API_VERSION = "v1"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Create and configure an instance of the app."""
    # The .env of the folder gunicorn or celery was started in, as `challenge` reads it; none
    # with FLASK_SKIP_DOTENV=1 (the test suite, whatever a developer keeps in theirs).
    if get_load_dotenv():
        load_dotenv(find_dotenv(usecwd=True), override=False)
    instance_path = os.environ.get("INSTANCE_PATH") or str(Path.cwd() / "instance")
    app = Flask(__name__, instance_path=os.path.abspath(instance_path))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    from website.config import load_config

    app.config.update(load_config(Path(app.instance_path)))
    app.config.update(
        API_TITLE=API_TITLE,
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_HEADERS_ENABLED=True,
    )
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("RATELIMIT_STORAGE_URI", app.config["REDIS_URL"])
    app.json = JSONProvider(app)

    from website import api, database, errors, log, metrics, redis_client, ui
    from website.auth import init_app as init_auth
    from website.extensions import db, limiter, migrate

    log.init_app(app)
    database.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"))
    redis_client.init_app(app)
    metrics.init_app(app)
    limiter.init_app(app)
    init_auth(app)
    api.init_app(app)
    ui.init_app(app)
    errors.init_app(app)

    from celery_app import celery_init_app

    celery_init_app(app)
    return app
