"""JWT set-up: string identities, the logged-in user, and role checks."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_jwt_extended import current_user

from website.extensions import db, jwt
from website.models import User

__all__ = ["current_user", "init_app"]


@jwt.user_identity_loader
def _identity(user: User | int | str) -> str:
    return str(user.id if isinstance(user, User) else user)


@jwt.user_lookup_loader
def _load_user(_header: dict[str, Any], payload: dict[str, Any]) -> User | None:
    # A deleted or deactivated user's tokens stop working at once.
    try:
        user = db.session.get(User, int(payload["sub"]))
    except (TypeError, ValueError):
        return None
    if user is None or not user.is_active:
        return None
    return user


def init_app(app: Flask) -> None:
    jwt.init_app(app)
