"""api keys: long-lived, revocable bearer credentials for scripts, stored as a SHA-256 hash

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 00:00:00.000000

- ``api_keys``: one row per key, owned by a user (deleted with them). Only the hash of a key is
  stored (unique: a presented key is found by it) and its first characters, to recognise it in
  listings. Nothing existing changes.
"""

import sqlalchemy as sa
from alembic import op

import website.database

# revision identifiers, used by Alembic.
revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", website.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", website.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["owner_id"],
            ["users.id"],
            name=op.f("fk_api_keys_owner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_owner_id"), ["owner_id"], unique=False)


def downgrade():
    with op.batch_alter_table("api_keys") as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_owner_id"))
    op.drop_table("api_keys")
