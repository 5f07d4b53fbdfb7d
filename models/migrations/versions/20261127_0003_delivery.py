"""delivery engine: broadcasts, acknowledgements, job runs, shared limiter state;
outbox.resends and outbox.event_at

Revision ID: 0003
Revises: 0002
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('delivery_state',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('tat', sa.Float(), nullable=False),
    sa.Column('paused_until', sa.Float(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_delivery_state'))
    )
    op.create_table('job_runs',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('due_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Enum('running', 'done', 'failed', 'skipped', name='jobrunstatus', native_enum=False, length=16), nullable=False),
    sa.Column('owner', sa.String(length=64), nullable=True),
    sa.Column('lease_expires_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.String(length=2000), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('name', 'due_at', name=op.f('uq_job_runs_name_due_at'))
    )
    op.create_table('broadcasts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_by_user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('scope_type', sa.Enum('district', 'community', 'grid', 'building', name='broadcastscope', native_enum=False, length=16), nullable=False),
    sa.Column('scope_id', sa.BigInteger(), nullable=False),
    sa.Column('audience', sa.Enum('residents', 'workers', 'both', name='broadcastaudience', native_enum=False, length=16), nullable=False),
    sa.Column('text', sa.String(length=4096), nullable=False),
    sa.Column('photo', sa.String(length=256), nullable=True),
    sa.Column('document', sa.String(length=256), nullable=True),
    sa.Column('ack_requested', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('active', 'paused', 'cancelled', 'done', name='broadcaststatus', native_enum=False, length=16), nullable=False),
    sa.Column('scheduled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('progress_chat_id', sa.BigInteger(), nullable=True),
    sa.Column('progress_message_id', sa.BigInteger(), nullable=True),
    sa.Column('progress_text', sa.String(length=4096), nullable=True),
    sa.Column('followup_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('followup_sent_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by_user_id'], ['users.id'], name=op.f('fk_broadcasts_created_by_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcasts'))
    )
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcasts_created_by_user_id'), ['created_by_user_id'], unique=False)
        batch_op.create_index('ix_broadcasts_status_followup_at', ['status', 'followup_at'], unique=False)

    op.create_table('broadcast_acks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('broadcast_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('acked_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], name=op.f('fk_broadcast_acks_broadcast_id_broadcasts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_broadcast_acks_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_broadcast_acks')),
    sa.UniqueConstraint('broadcast_id', 'user_id', name=op.f('uq_broadcast_acks_broadcast_id_user_id'))
    )
    with op.batch_alter_table('broadcast_acks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcast_acks_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resends', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('event_at', models.base.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('event_at')
        batch_op.drop_column('resends')

    with op.batch_alter_table('broadcast_acks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcast_acks_user_id'))

    op.drop_table('broadcast_acks')
    with op.batch_alter_table('broadcasts', schema=None) as batch_op:
        batch_op.drop_index('ix_broadcasts_status_followup_at')
        batch_op.drop_index(batch_op.f('ix_broadcasts_created_by_user_id'))

    op.drop_table('broadcasts')
    op.drop_table('job_runs')
    op.drop_table('delivery_state')
