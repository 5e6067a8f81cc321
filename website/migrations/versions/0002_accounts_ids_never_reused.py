"""accounts: ids never reused, usernames unique whatever their case, a security stamp per user

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 10:00:00.000000

- SQLite gave a deleted row's id to the next row when it was the highest: users, tasks and jobs
  are rebuilt with AUTOINCREMENT (rows, ids and links kept). PostgreSQL's sequences never reuse
  an id, so nothing changes there.
- ``users.username_lower`` (unique) makes usernames unique whatever their case. Where existing
  usernames differ only in case, the oldest account (lowest id) keeps its name and each later one
  is renamed ``<name>-<id>`` (logged as a warning); no row is deleted.
- ``users.security_stamp``: tokens carry it and work only while the account has it. Every account
  gets a fresh one, so tokens issued before this upgrade stop working: users log in again.
"""

import logging
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

USERNAME_MAX_LENGTH = 64
SECURITY_STAMP_BYTES = 16
REBUILT_WITH_AUTOINCREMENT = ("tasks", "jobs")  # users is rebuilt on its own below

users = sa.table(
    "users",
    sa.column("id", sa.Integer),
    sa.column("username", sa.String),
    sa.column("username_lower", sa.String),
    sa.column("security_stamp", sa.String),
)


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _users_batch(autoincrement: bool):
    """A batch on users; on SQLite the table is rebuilt, with or without AUTOINCREMENT."""
    if not _is_sqlite():
        return op.batch_alter_table("users")
    return op.batch_alter_table(
        "users", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    )


def _free_variant(username: str, user_id: int, taken: set[str]) -> str:
    """``<name>-<id>`` (cut to fit), with more digits appended should even that be taken."""
    suffix, extra = f"-{user_id}", 0
    while True:
        candidate = username[: USERNAME_MAX_LENGTH - len(suffix)] + suffix
        if candidate.lower() not in taken:
            return candidate
        extra += 1
        suffix = f"-{user_id}-{extra}"


def _fill_new_user_columns() -> None:
    bind = op.get_bind()
    taken: set[str] = set()
    for user_id, username in bind.execute(
        sa.select(users.c.id, users.c.username).order_by(users.c.id)
    ).all():
        name = username
        if name.lower() in taken:
            name = _free_variant(username, user_id, taken)
            logger.warning(
                "user %s: username %r differs only in case from an older account's, renamed %r",
                user_id,
                username,
                name,
            )
        taken.add(name.lower())
        bind.execute(
            users.update()
            .where(users.c.id == user_id)
            .values(
                username=name,
                username_lower=name.lower(),
                security_stamp=secrets.token_urlsafe(SECURITY_STAMP_BYTES),
            )
        )


def upgrade():
    with _users_batch(autoincrement=True) as batch_op:
        batch_op.add_column(sa.Column("username_lower", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("security_stamp", sa.String(length=32), nullable=True))

    _fill_new_user_columns()

    with _users_batch(autoincrement=True) as batch_op:
        batch_op.alter_column("username_lower", existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column("security_stamp", existing_type=sa.String(length=32), nullable=False)
        batch_op.drop_constraint(op.f("uq_users_username"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_users_username_lower"), ["username_lower"])
        batch_op.create_check_constraint(
            op.f("ck_users_username_lower"), "username_lower = lower(username)"
        )

    if _is_sqlite():
        for table in REBUILT_WITH_AUTOINCREMENT:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
            ):
                pass


def downgrade():
    if _is_sqlite():
        for table in REBUILT_WITH_AUTOINCREMENT:
            with op.batch_alter_table(
                table, recreate="always", table_kwargs={"sqlite_autoincrement": False}
            ):
                pass

    with _users_batch(autoincrement=False) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_username_lower"), type_="check")
        batch_op.drop_constraint(op.f("uq_users_username_lower"), type_="unique")
        batch_op.create_unique_constraint(op.f("uq_users_username"), ["username"])
        batch_op.drop_column("security_stamp")
        batch_op.drop_column("username_lower")
