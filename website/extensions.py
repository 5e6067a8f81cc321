"""Flask extensions, created unbound here and bound to the app in ``create_app``."""

from __future__ import annotations

from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api

from website.database import db

__all__ = ["api", "db", "jwt", "limiter", "migrate"]

# Flask-Migrate's own commands live under `challenge migrations`; `challenge db` is ours.
migrate = Migrate(command="migrations")
jwt = JWTManager()
api = Api()
# Storage is pointed at Redis in create_app (RATELIMIT_STORAGE_URI); limits are set per route.
limiter = Limiter(key_func=get_remote_address)
