"""Flask extensions, created unbound here and bound to the app in ``create_app``."""

from __future__ import annotations

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api

from website.database import db
from website.jwt_manager import JWTManager

__all__ = ["RouteLimiter", "api", "db", "jwt", "limiter", "migrate"]

# Flask-Migrate's own commands live under `challenge migrations`; `challenge db` is ours.
migrate = Migrate(command="migrations")
jwt = JWTManager()
api = Api()


class RouteLimiter(Limiter):
    """flask-limiter for limits set on routes only (``@limiter.limit``), as every limit here is.

    A decorated route checks its limits itself; flask-limiter's hook before every request only
    serves default and application-wide limits, which this app has none of, so it is not
    installed: every other request skips the work of finding that it has no limits.
    """

    def init_app(self, app: Flask) -> None:
        super().init_app(app)
        hooks = app.before_request_funcs.get(None, [])
        if self._check_request_limit in hooks:
            hooks.remove(self._check_request_limit)


# Storage is pointed at Redis in create_app (RATELIMIT_STORAGE_URI); limits are set per route.
limiter = RouteLimiter(key_func=get_remote_address, default_limits=[])
