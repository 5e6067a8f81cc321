"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 14:27:06.474679

"""
from alembic import op
import sqlalchemy as sa

import website.database


# revision identifiers, used by Alembic.
revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade():

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('created_at', website.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("role IN ('user', 'admin')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('parameters', sa.JSON(), nullable=False),
    sa.Column('start_time', website.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_time', website.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('task_interval', sa.Integer(), nullable=False),
    sa.Column('max_execution_time', sa.Integer(), nullable=False),
    sa.Column('max_attempt', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('next_run_at', website.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_job_id', sa.Integer(), nullable=True),
    sa.Column('last_data_job_id', sa.Integer(), nullable=True),
    sa.Column('last_execute_time', website.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_execution_status', sa.String(length=16), nullable=True),
    sa.Column('last_execution_error', sa.Text(), nullable=True),
    sa.Column('last_execution_time', sa.Double(), nullable=True),
    sa.Column('etag', sa.String(length=512), nullable=True),
    sa.Column('last_modified', sa.String(length=64), nullable=True),
    sa.Column('created_at', website.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', website.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('attempt >= 0', name=op.f('ck_tasks_attempt_not_negative')),
    sa.CheckConstraint('end_time IS NULL OR end_time > start_time', name=op.f('ck_tasks_window_order')),
    sa.CheckConstraint('max_attempt >= 1', name=op.f('ck_tasks_max_attempt_positive')),
    sa.CheckConstraint('max_execution_time >= 0', name=op.f('ck_tasks_max_execution_time_not_negative')),
    sa.CheckConstraint('priority BETWEEN 0 AND 9', name=op.f('ck_tasks_priority_range')),
    sa.CheckConstraint('task_interval > 0', name=op.f('ck_tasks_task_interval_positive')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_tasks_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks'))
    )
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.create_index('ix_tasks_due', ['enabled', 'next_run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tasks_owner_id'), ['owner_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('scheduled_for', website.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('queued_at', website.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_at', website.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', website.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', website.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_until', website.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('duration', sa.Double(), nullable=True),
    sa.Column('http_status', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('worker', sa.String(length=255), nullable=True),
    sa.Column('not_modified', sa.Boolean(), nullable=False),
    sa.Column('records_count', sa.Integer(), nullable=True),
    sa.Column('records_added', sa.Integer(), nullable=True),
    sa.Column('records_changed', sa.Integer(), nullable=True),
    sa.Column('records_removed', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('queued', 'running', 'succeeded', 'failed', 'timed_out', 'lost', 'cancelled')", name=op.f('ck_jobs_status')),
    sa.CheckConstraint('attempt >= 0', name=op.f('ck_jobs_attempt_not_negative')),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_jobs_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('task_id', 'scheduled_for', 'attempt', name=op.f('uq_jobs_task_id_scheduled_for_attempt'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index('ix_jobs_status_queued_at', ['status', 'queued_at'], unique=False)
        batch_op.create_index('ix_jobs_task_id_id', ['task_id', 'id'], unique=False)
        batch_op.create_index('ux_jobs_one_unfinished_per_task', ['task_id'], unique=True, sqlite_where=sa.text("status IN ('queued', 'running')"), postgresql_where=sa.text("status IN ('queued', 'running')"))

    op.create_table('data',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('record_key', sa.String(length=255), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['jobs.id'], name=op.f('fk_data_job_id_jobs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_data_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_data'))
    )
    with op.batch_alter_table('data', schema=None) as batch_op:
        batch_op.create_index('ix_data_job_id_id', ['job_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_data_task_id'), ['task_id'], unique=False)




def downgrade():

    with op.batch_alter_table('data', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_data_task_id'))
        batch_op.drop_index('ix_data_job_id_id')

    op.drop_table('data')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index('ux_jobs_one_unfinished_per_task', sqlite_where=sa.text("status IN ('queued', 'running')"), postgresql_where=sa.text("status IN ('queued', 'running')"))
        batch_op.drop_index('ix_jobs_task_id_id')
        batch_op.drop_index('ix_jobs_status_queued_at')

    op.drop_table('jobs')
    with op.batch_alter_table('tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tasks_owner_id'))
        batch_op.drop_index('ix_tasks_due')

    op.drop_table('tasks')
    op.drop_table('users')

