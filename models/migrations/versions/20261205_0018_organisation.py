"""The district's own organisation (issue 17): party members, alliance units,
proxy errands offered to volunteers, service days and their sign-ups, and a
resident's unit (单元) of their building.

Building heads, unit heads and volunteers are role grants: no column changes
(a unit head's scope id is ``building id * 1000 + unit``, see models.users).
Everything here is new tables and one nullable column: additive.

Revision ID: 0018
Revises: 0019
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

import models.base

revision: str = '0018'
down_revision: str | Sequence[str] | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alliance_units',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('names', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('contact', sa.String(length=200), nullable=True),
    sa.Column('offers', sa.Text(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_alliance_units_community_id_communities'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alliance_units')),
    sa.UniqueConstraint('code', name=op.f('uq_alliance_units_code'))
    )
    with op.batch_alter_table('alliance_units', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alliance_units_community_id'), ['community_id'], unique=False)

    op.create_table('party_members',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('branch_grid_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('group_building_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('central_household', sa.Boolean(), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['branch_grid_id'], ['grids.id'], name=op.f('fk_party_members_branch_grid_id_grids'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_building_id'], ['buildings.id'], name=op.f('fk_party_members_group_building_id_buildings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_party_members_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_party_members'))
    )
    with op.batch_alter_table('party_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_party_members_branch_grid_id'), ['branch_grid_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_party_members_group_building_id'), ['group_building_id'], unique=False)

    op.create_table('service_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('starts_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('audience', sa.Enum('residents', 'volunteers', 'both', name='eventaudience', native_enum=False, length=16), nullable=False),
    sa.Column('status', sa.Enum('open', 'held', 'cancelled', name='eventstatus', native_enum=False, length=16), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('held_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('version', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_service_events_community_id_communities'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_service_events_created_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_events'))
    )
    with op.batch_alter_table('service_events', schema=None) as batch_op:
        batch_op.create_index('ix_service_events_community_id_starts_at', ['community_id', 'starts_at'], unique=False)

    op.create_table('errand_offers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('case_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('offered_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('offered_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('share_phone', sa.Boolean(), nullable=False),
    sa.Column('taken_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('taken_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('done_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_errand_offers_case_id_cases'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_errand_offers_community_id_communities'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['offered_by_id'], ['users.id'], name=op.f('fk_errand_offers_offered_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['taken_by_id'], ['users.id'], name=op.f('fk_errand_offers_taken_by_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_errand_offers')),
    sa.UniqueConstraint('case_id', name=op.f('uq_errand_offers_case_id'))
    )
    with op.batch_alter_table('errand_offers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_errand_offers_community_id'), ['community_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_errand_offers_taken_by_id'), ['taken_by_id'], unique=False)

    op.create_table('event_signups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('as_volunteer', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('going', 'waiting', 'cancelled', name='signupstatus', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attended', sa.Boolean(), nullable=True),
    sa.Column('hours', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['event_id'], ['service_events.id'], name=op.f('fk_event_signups_event_id_service_events'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_signups_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_signups')),
    sa.UniqueConstraint('event_id', 'user_id', name=op.f('uq_event_signups_event_id_user_id'))
    )
    with op.batch_alter_table('event_signups', schema=None) as batch_op:
        batch_op.create_index('ix_event_signups_event_id_status_id', ['event_id', 'status', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_event_signups_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unit', sa.Integer(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('unit')

    with op.batch_alter_table('event_signups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_signups_user_id'))
        batch_op.drop_index('ix_event_signups_event_id_status_id')

    op.drop_table('event_signups')
    with op.batch_alter_table('errand_offers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_errand_offers_taken_by_id'))
        batch_op.drop_index(batch_op.f('ix_errand_offers_community_id'))

    op.drop_table('errand_offers')
    with op.batch_alter_table('service_events', schema=None) as batch_op:
        batch_op.drop_index('ix_service_events_community_id_starts_at')

    op.drop_table('service_events')
    with op.batch_alter_table('party_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_party_members_group_building_id'))
        batch_op.drop_index(batch_op.f('ix_party_members_branch_grid_id'))

    op.drop_table('party_members')
    with op.batch_alter_table('alliance_units', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alliance_units_community_id'))

    op.drop_table('alliance_units')
