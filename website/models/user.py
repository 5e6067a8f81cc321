"""Accounts: who may log in, and with which role."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, String
from sqlalchemy.engine.default import DefaultExecutionContext
from sqlalchemy.orm import Mapped, mapped_column, relationship

from website.database import UTCDateTime, db, utcnow

if TYPE_CHECKING:
    from website.models.task import Task

__all__ = ["SECURITY_STAMP_BYTES", "Role", "User", "new_security_stamp"]

SECURITY_STAMP_BYTES = 16  # random bytes of a stamp: no two accounts ever share one


class Role(enum.StrEnum):
    USER = "user"
    ADMIN = "admin"


def new_security_stamp() -> str:
    """A fresh random stamp: every token issued before it no longer matches the account."""
    return secrets.token_urlsafe(SECURITY_STAMP_BYTES)


def _lower_username(context: DefaultExecutionContext) -> str:
    return str(context.get_current_parameters()["username"]).lower()


class User(db.Model):  # type: ignore[name-defined]
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('user', 'admin')", name="role"),
        CheckConstraint("username_lower = lower(username)", name="username_lower"),
        # A deleted user's id is never given again (SQLite reuses the highest rowid otherwise):
        # tokens and logs name users by id.
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))  # as registered, case kept
    # The username in lower case, unique: names differing only in case are one name, and a login
    # finds its account whatever the case typed. Usernames are ASCII, so lower() agrees everywhere.
    username_lower: Mapped[str] = mapped_column(String(64), unique=True, default=_lower_username)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value)
    is_active: Mapped[bool] = mapped_column(default=True)
    # Every token carries the stamp it was issued under and works only while the account still
    # has it: a new account never accepts tokens of an earlier one with the same id, and a new
    # stamp ("log out everywhere") ends every token issued before.
    security_stamp: Mapped[str] = mapped_column(String(32), default=new_security_stamp)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tasks: Mapped[list[Task]] = relationship(
        back_populates="owner", cascade="all, delete-orphan", passive_deletes=True
    )

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.id} {self.username!r}>"
