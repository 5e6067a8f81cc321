"""webhooks: subscriptions, the outbox of events owed to them, each delivery attempt; stale tasks

Revision ID: 0006
Revises: 0004
Create Date: 2026-12-07 00:30:00.000000

- ``webhooks``: a user's subscriptions (URL, events, optional task ids, secret, active).
- ``webhook_events``: the outbox, one row per event owed to one webhook, written in the
  transaction of the change that caused it; the tick publishes the due ones.
- ``webhook_deliveries``: every attempt (status code, duration, error).
- ``tasks.stale_after`` (the task.stale alert), ``tasks.stale_at`` and ``tasks.last_success_at``.
  Existing tasks have no alert; their last success is unknown until their next one.
"""

import sqlalchemy as sa
from alembic import op

import website.database

# revision identifiers, used by Alembic.
revision = "0006"
down_revision = "0004"
branch_labels = None
depends_on = None

EVENT_TYPES = "type IN ('task.exhausted', 'task.recovered', 'task.stale', 'data.changed', 'ping')"
EVENT_STATUSES = "status IN ('pending', 'delivered', 'failed')"


def _tasks_batch():
    """A batch on tasks; SQLite rebuilds the table for the check constraint, keeping its
    AUTOINCREMENT (revision 0002)."""
    return op.batch_alter_table("tasks", table_kwargs={"sqlite_autoincrement": True})


def upgrade():
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("task_ids", sa.JSON(), nullable=True),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("created_at", website.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", website.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_webhooks_owner_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("webhooks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhooks_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "webhook_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=40), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("created_at", website.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", website.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lease_until", website.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", website.database.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(EVENT_TYPES, name=op.f("ck_webhook_events_type")),
        sa.CheckConstraint(EVENT_STATUSES, name=op.f("ck_webhook_events_status")),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_webhook_events_attempts_not_negative")),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_events_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_events")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("webhook_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_events_due", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_webhook_events_event_id"), ["event_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_events_webhook_id"), ["webhook_id"], unique=False
        )

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("event_row_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("attempted_at", website.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration", sa.Double(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_row_id"],
            ["webhook_events.id"],
            name=op.f("fk_webhook_deliveries_event_row_id_webhook_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_event_row_id"), ["event_row_id"], unique=False
        )
        batch_op.create_index(
            "ix_webhook_deliveries_webhook_id_id", ["webhook_id", "id"], unique=False
        )

    with _tasks_batch() as batch_op:
        batch_op.add_column(sa.Column("stale_after", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("stale_at", website.database.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "last_success_at", website.database.UTCDateTime(timezone=True), nullable=True
            )
        )
        batch_op.create_check_constraint(
            op.f("ck_tasks_stale_after_positive"), "stale_after IS NULL OR stale_after > 0"
        )
        batch_op.create_index(batch_op.f("ix_tasks_stale_at"), ["stale_at"], unique=False)


def downgrade():
    with _tasks_batch() as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_stale_at"))
        batch_op.drop_constraint(op.f("ck_tasks_stale_after_positive"), type_="check")
        batch_op.drop_column("last_success_at")
        batch_op.drop_column("stale_at")
        batch_op.drop_column("stale_after")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_events")
    op.drop_table("webhooks")
