"""appointments: station working plans, closures, seat counters and bookings

Revision ID: 0005
Revises: 0002
Create Date: 2026-11-27 06:15:32.256831
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

import models.base

revision: str = '0005'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('appointment_slots',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('station_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('starts_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('booked', sa.Integer(), nullable=False),
    sa.CheckConstraint('booked >= 0', name=op.f('ck_appointment_slots_booked_not_negative')),
    sa.ForeignKeyConstraint(['service_id'], ['service_items.id'], name=op.f('fk_appointment_slots_service_id_service_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_appointment_slots_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_slots')),
    sa.UniqueConstraint('station_id', 'service_id', 'starts_at', name=op.f('uq_appointment_slots_station_id_service_id_starts_at'))
    )
    op.create_table('appointment_closures',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('station_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_appointment_closures_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_appointment_closures_station_id_stations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_closures')),
    sa.UniqueConstraint('station_id', 'day', name=op.f('uq_appointment_closures_station_id_day'))
    )
    op.create_table('appointment_plans',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('station_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('weekly', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('slot_minutes', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('min_notice_minutes', sa.Integer(), nullable=False),
    sa.Column('cancel_cutoff_minutes', sa.Integer(), nullable=False),
    sa.Column('at_home', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('updated_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['service_id'], ['service_items.id'], name=op.f('fk_appointment_plans_service_id_service_items'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_appointment_plans_station_id_stations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_appointment_plans_updated_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointment_plans')),
    sa.UniqueConstraint('station_id', 'service_id', name=op.f('uq_appointment_plans_station_id_service_id'))
    )
    with op.batch_alter_table('appointment_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_appointment_plans_service_id'), ['service_id'], unique=False)

    op.create_table('appointments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slot_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('station_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('service_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('starts_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('booked', 'cancelled', 'attended', 'no_show', name='appointmentstatus', native_enum=False, length=16), nullable=False),
    sa.Column('at_home', sa.Boolean(), nullable=False),
    sa.Column('proxy', sa.Boolean(), nullable=False),
    sa.Column('booked_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('cancel_reason', sa.Enum('resident', 'closure', 'holiday', name='cancelreason', native_enum=False, length=16), nullable=True),
    sa.Column('cancelled_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('marked_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('marked_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('follow_up', sa.Enum('offered', 'proxy', 'home_visit', 'rebooked', name='followup', native_enum=False, length=16), nullable=True),
    sa.Column('follow_up_case_id', sa.BigInteger(), nullable=True),
    sa.Column('rebooked_as_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booked_by_id'], ['users.id'], name=op.f('fk_appointments_booked_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_appointments_cancelled_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['marked_by_id'], ['users.id'], name=op.f('fk_appointments_marked_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['users.id'], name=op.f('fk_appointments_resident_id_users'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['service_id'], ['service_items.id'], name=op.f('fk_appointments_service_id_service_items'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['slot_id'], ['appointment_slots.id'], name=op.f('fk_appointments_slot_id_appointment_slots'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['station_id'], ['stations.id'], name=op.f('fk_appointments_station_id_stations'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_appointments'))
    )
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.create_index('ix_appointments_resident_id_status_starts_at', ['resident_id', 'status', 'starts_at'], unique=False)
        batch_op.create_index('ix_appointments_station_id_day', ['station_id', 'day'], unique=False)
        batch_op.create_index('ix_appointments_status_day', ['status', 'day'], unique=False)
        batch_op.create_index('uq_appointments_slot_resident_booked', ['slot_id', 'resident_id'], unique=True, sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))



def downgrade() -> None:
    with op.batch_alter_table('appointments', schema=None) as batch_op:
        batch_op.drop_index('uq_appointments_slot_resident_booked', sqlite_where=sa.text("status = 'booked'"), postgresql_where=sa.text("status = 'booked'"))
        batch_op.drop_index('ix_appointments_status_day')
        batch_op.drop_index('ix_appointments_station_id_day')
        batch_op.drop_index('ix_appointments_resident_id_status_starts_at')

    op.drop_table('appointments')
    with op.batch_alter_table('appointment_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_appointment_plans_service_id'))

    op.drop_table('appointment_plans')
    op.drop_table('appointment_closures')
    op.drop_table('appointment_slots')
