"""Accounts: creating users and looking them up."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from website.errors import Conflict, NotFound
from website.extensions import db
from website.models import Role, User
from website.services.passwords import hash_password

__all__ = ["create_user", "get_user", "get_user_by_username"]

logger = logging.getLogger(__name__)


def create_user(username: str, password: str, role: Role = Role.USER) -> User:
    """Create a user; a taken username is a Conflict."""
    user = User(username=username, password_hash=hash_password(password), role=role.value)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"Username {username!r} is already taken") from None
    logger.info("user created", extra={"user_id": user.id})
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


def get_user_by_username(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username))
