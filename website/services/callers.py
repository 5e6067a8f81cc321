"""Who a request acts for: the active account its verified token names, read on every request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select, true

from website.extensions import db
from website.models import USERS, Role

__all__ = ["Caller", "active_caller"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The user a request acts for, as the database says on this request: active, with a role.

    Only what authorization needs; views that show or change the account load the ``User``.
    """

    id: int
    role: str
    security_stamp: str  # the stamp its token carried, which the account still has

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


# One indexed read per request, built once: the tokens of a deleted or deactivated user, of an
# earlier account with the same id, or issued before the account's stamp changed stop working.
_ACTIVE_CALLER = select(USERS.c.id, USERS.c.role, USERS.c.security_stamp).where(
    USERS.c.id == bindparam("user_id"),
    USERS.c.is_active == true(),
    USERS.c.security_stamp == bindparam("security_stamp"),
)


def active_caller(user_id: int, security_stamp: str) -> Caller | None:
    """The active user ``user_id`` while its stamp is ``security_stamp``, else None."""
    # On the session's connection: a Core statement skips the ORM's per-execute work.
    row = (
        db.session.connection()
        .execute(_ACTIVE_CALLER, {"user_id": user_id, "security_stamp": security_stamp})
        .one_or_none()
    )
    return None if row is None else Caller(row.id, row.role, row.security_stamp)
