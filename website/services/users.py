"""Accounts: registering, authenticating, listing, changing and deleting users."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from website.errors import Conflict, InvalidInput, NotFound, Unauthorized
from website.extensions import db
from website.models import Role, User
from website.models.user import new_security_stamp
from website.services.passwords import hash_password, needs_rehash, verify_password

__all__ = [
    "BAD_CREDENTIALS",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_LENGTH",
    "USERNAME_MAX_LENGTH",
    "USERNAME_PATTERN",
    "authenticate",
    "change_password",
    "create_user",
    "delete_user",
    "end_every_session",
    "find_user",
    "get_user",
    "get_user_by_username",
    "list_users",
    "set_password",
    "update_user",
]

logger = logging.getLogger(__name__)

USERNAME_MAX_LENGTH = 64  # the width of users.username
# 3-64 ASCII letters, digits, dots, underscores and hyphens.
USERNAME_PATTERN = rf"^[A-Za-z0-9._-]{{3,{USERNAME_MAX_LENGTH}}}$"
PASSWORD_MIN_LENGTH = 8  # OWASP ASVS 2.1.1
PASSWORD_MAX_LENGTH = 128  # bounds the hashing work one request can ask for
# One message for an unknown user and a wrong password, so logins cannot probe usernames.
BAD_CREDENTIALS = "Invalid username or password"
_USERNAME = re.compile(USERNAME_PATTERN)


def _password_problems(password: str) -> list[str]:
    if not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        return [f"Length must be between {PASSWORD_MIN_LENGTH} and {PASSWORD_MAX_LENGTH}."]
    return []


def _check_credentials(username: str, password: str) -> None:
    errors: dict[str, Any] = {}
    if not _USERNAME.fullmatch(username):
        errors["username"] = ["3-64 letters, digits, '.', '_' or '-'."]
    if _password_problems(password):
        errors["password"] = _password_problems(password)
    if errors:
        raise InvalidInput(f"Invalid input: {', '.join(sorted(errors))}", errors)


def create_user(username: str, password: str, role: Role = Role.USER) -> User:
    """Create a user; bad credentials are InvalidInput and a taken username is a Conflict."""
    _check_credentials(username, password)
    user = User(username=username, password_hash=hash_password(password), role=Role(role).value)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict(f"Username {username!r} is already taken") from None
    logger.info("user created with role %s", user.role, extra={"user_id": user.id})
    return user


def authenticate(username: str, password: str) -> User:
    """The active user with these credentials, or Unauthorized (same message whatever failed)."""
    user = get_user_by_username(username)
    # verify_password spends one hash's time even for an unknown user: no timing oracle.
    if not verify_password(user.password_hash if user else None, password):
        logger.info("failed login")
        raise Unauthorized(BAD_CREDENTIALS)
    assert user is not None  # verify_password is never true without a hash
    if not user.is_active:
        logger.info("login refused: user deactivated", extra={"user_id": user.id})
        raise Unauthorized(BAD_CREDENTIALS)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        db.session.commit()
        logger.info("password re-hashed with current parameters", extra={"user_id": user.id})
    return user


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("User not found")
    return user


def find_user(user_id: int) -> User | None:
    """The user ``user_id``, or None."""
    return db.session.get(User, user_id)


def get_user_by_username(username: str) -> User | None:
    """The user called ``username``, whatever the case of either."""
    return db.session.scalar(select(User).where(User.username_lower == username.lower()))


def list_users(page: int, page_size: int) -> tuple[Sequence[User], int]:
    """One page of users by id, and the total count."""
    total = db.session.scalar(select(func.count()).select_from(User)) or 0
    users = db.session.scalars(
        select(User).order_by(User.id).offset((page - 1) * page_size).limit(page_size)
    ).all()
    return users, total


def _is_active_admin(user: User) -> bool:
    return user.is_active and user.is_admin


def _ensure_another_active_admin(user: User) -> None:
    """Refuse to remove the last active admin: nobody could administer the service afterwards."""
    others = db.session.scalar(
        select(func.count())
        .select_from(User)
        .where(User.role == Role.ADMIN.value, User.is_active.is_(True), User.id != user.id)
    )
    if not others:
        raise Conflict("This is the last active admin; make another admin first")


def update_user(user_id: int, role: Role | None = None, is_active: bool | None = None) -> User:
    """Change a user's role and/or active flag."""
    user = get_user(user_id)
    was_active_admin = _is_active_admin(user)
    if role is not None:
        user.role = Role(role).value
    if is_active is not None:
        user.is_active = is_active
    if was_active_admin and not _is_active_admin(user):
        try:
            _ensure_another_active_admin(user)
        except Conflict:
            db.session.rollback()
            raise
    db.session.commit()
    logger.info(
        "user updated: role=%s active=%s", user.role, user.is_active, extra={"user_id": user.id}
    )
    return user


def end_every_session(user_id: int) -> None:
    """Give the user a new security stamp: every token issued to them so far stops working."""
    user = get_user(user_id)
    user.security_stamp = new_security_stamp()
    db.session.commit()
    logger.info("every session ended", extra={"user_id": user_id})


def change_password(user_id: int, current_password: str, new_password: str) -> User:
    """The user's own change: the current password must be right. Every token issued so far
    stops working (a new stamp); the caller gets new ones from the API. API keys stay."""
    user = get_user(user_id)
    if not verify_password(user.password_hash, current_password):
        logger.info("password change refused: wrong current password", extra={"user_id": user_id})
        raise InvalidInput(
            "The current password is wrong", {"current_password": ["Wrong password."]}
        )
    return _replace_password(user, new_password, "new_password")


def set_password(user_id: int, new_password: str) -> User:
    """An admin's reset (API or CLI): no current password; every token of the user stops working."""
    return _replace_password(get_user(user_id), new_password, "password")


def _replace_password(user: User, new_password: str, field: str) -> User:
    problems = _password_problems(new_password)
    if problems:
        raise InvalidInput(f"Invalid input: {field}", {field: problems})
    user.password_hash = hash_password(new_password)
    user.security_stamp = new_security_stamp()
    db.session.commit()
    logger.info("password changed; every session ended", extra={"user_id": user.id})
    return user


def delete_user(user_id: int) -> None:
    """Delete a user; the database cascades to their tasks, jobs and data."""
    user = get_user(user_id)
    if _is_active_admin(user):
        _ensure_another_active_admin(user)
    db.session.delete(user)
    db.session.commit()
    logger.info("user deleted", extra={"user_id": user_id})
