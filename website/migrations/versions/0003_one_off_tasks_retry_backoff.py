"""tasks: one-off tasks (task_interval nullable) and a retry backoff per task

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 00:00:00.000000

- ``tasks.task_interval`` may be NULL: a one-off task, run once at its start_time. The CHECK
  ``task_interval > 0`` stays (NULL passes it).
- ``tasks.retry_backoff`` (seconds, > 0, default 1): the base of the exponential backoff between
  retries. Existing tasks get 1, the backoff they had.

On SQLite changing a column's nullability rebuilds the table: it keeps its AUTOINCREMENT (ids
never reused, see 0002), its rows, indexes and constraints.

Downgrading gives every one-off task an interval of a year (the longest allowed) and drops the
backoff: one-off tasks become yearly tasks, logged as a warning.
"""

import logging

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

logger = logging.getLogger("alembic.runtime.migration")

ONE_YEAR = 365 * 24 * 3600  # the interval a one-off task gets when downgrading

tasks = sa.table("tasks", sa.column("id", sa.Integer), sa.column("task_interval", sa.Integer))


def _tasks_batch():
    """A batch on tasks; on SQLite the table is rebuilt, keeping AUTOINCREMENT."""
    if op.get_bind().dialect.name != "sqlite":
        return op.batch_alter_table("tasks")
    return op.batch_alter_table(
        "tasks", recreate="always", table_kwargs={"sqlite_autoincrement": True}
    )


def upgrade():
    with _tasks_batch() as batch_op:
        batch_op.alter_column("task_interval", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("retry_backoff", sa.Double(), server_default=sa.text("1"), nullable=False)
        )
        batch_op.create_check_constraint(
            op.f("ck_tasks_retry_backoff_positive"), "retry_backoff > 0"
        )


def downgrade():
    bind = op.get_bind()
    one_off = bind.execute(sa.select(tasks.c.id).where(tasks.c.task_interval.is_(None))).all()
    if one_off:
        logger.warning(
            "%s one-off tasks get an interval of a year: %s",
            len(one_off),
            [row.id for row in one_off],
        )
        bind.execute(
            tasks.update().where(tasks.c.task_interval.is_(None)).values(task_interval=ONE_YEAR)
        )
    with _tasks_batch() as batch_op:
        batch_op.drop_constraint(op.f("ck_tasks_retry_backoff_positive"), type_="check")
        batch_op.drop_column("retry_backoff")
        batch_op.alter_column("task_interval", existing_type=sa.Integer(), nullable=False)
