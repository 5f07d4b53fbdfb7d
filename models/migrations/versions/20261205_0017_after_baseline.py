"""Everything added on 5 December 2026 after the baseline, one migration: Open311
GeoReport v2 (API clients with hashed keys, requests filed through the API, the
private flags of a case and of a catalogue item, the public list's indexes);
escalations with handles (the reminder before the acceptance limit, the level an
alert has climbed to); residents' consultations and family delegates; the
district's own organisation (party members, alliance units, proxy errands offered
to volunteers, service days and sign-ups, a resident's unit); the deployment state
the processes of one deployment agree on; and the answers recorded with an
update's done-mark (``bot/answers.py``).

These were six migrations written in one development session and never released
(0020, 0023, 0019, 0018, 0021, 0017 in that order); they are one now, with the
revision id of the last, so a database already at 0017 is untouched.  Additive
only: new tables, new nullable columns, new indexes.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

import models.base

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # -- Open311 GeoReport v2 (issue 18) (was revision 0020)
    op.create_table(
        "open311_clients",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_open311_clients_user_id_users"),
                                ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_clients")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_open311_clients_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_open311_clients_name")),
    )
    op.create_table(
        "open311_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("client_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("first_name", sa.String(length=128), nullable=True),
        sa.Column("last_name", sa.String(length=128), nullable=True),
        sa.Column("device_id", sa.String(length=128), nullable=True),
        sa.Column("account_id", sa.String(length=128), nullable=True),
        sa.Column("media_url", sa.Text(), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_open311_requests_case_id_cases"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["client_id"], ["open311_clients.id"],
                                name=op.f("fk_open311_requests_client_id_open311_clients"), ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_open311_requests")),
        sa.UniqueConstraint("case_id", name=op.f("uq_open311_requests_case_id")),
        sa.UniqueConstraint("token", name=op.f("uq_open311_requests_token")),
    )
    op.create_index(op.f("ix_open311_requests_client_id"), "open311_requests", ["client_id"], unique=False)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index("ix_cases_submitted_at_id", ["submitted_at", "id"], unique=False)
        batch_op.create_index("ix_cases_updated_at_id", ["updated_at", "id"], unique=False)
    with op.batch_alter_table("service_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False))

    # -- escalations with handles (issue 20) (was revision 0023)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accept_reminded_at", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("escalation_next_at", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_cases_escalation_next_at", ["escalation_next_at"], unique=False)

    # -- residents' consultations and family delegates (issue 17) (was revision 0019)
    op.create_table('consultations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('scope_type', sa.Enum('district', 'community', 'grid', 'building', name='broadcastscope', native_enum=False, length=16), nullable=False),
    sa.Column('scope_id', sa.BigInteger(), nullable=False),
    sa.Column('community_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('grid_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('question', sa.Text(), nullable=False),
    sa.Column('choices', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql').with_variant(sqlite.JSON(), 'sqlite'), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', name='consultationstatus', native_enum=False, length=16), nullable=False),
    sa.Column('closes_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('salt', sa.String(length=64), nullable=True),
    sa.Column('asked', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_consultations_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_consultations_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_consultations_grid_id_grids'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultations'))
    )
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.create_index('ix_consultations_community_id_created_at', ['community_id', 'created_at'], unique=False)
        batch_op.create_index('ix_consultations_status_closes_at', ['status', 'closes_at'], unique=False)

    op.create_table('family_links',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('resident_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('delegate_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('invited', 'pending', 'active', 'ended', name='familylinkstatus', native_enum=False, length=16), nullable=False),
    sa.Column('expires_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('resident_copies', sa.Boolean(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('opened_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('confirmed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('ended_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['delegate_id'], ['users.id'], name=op.f('fk_family_links_delegate_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['ended_by_id'], ['users.id'], name=op.f('fk_family_links_ended_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['resident_id'], ['users.id'], name=op.f('fk_family_links_resident_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_family_links')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_family_links_token_hash'))
    )
    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.create_index('ix_family_links_delegate_id_status', ['delegate_id', 'status'], unique=False)
        batch_op.create_index('ix_family_links_resident_id_status', ['resident_id', 'status'], unique=False)

    op.create_table('consultation_answers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consultation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('voter', sa.String(length=64), nullable=False),
    sa.Column('choice', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_consultation_answers_consultation_id_consultations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_answers')),
    sa.UniqueConstraint('consultation_id', 'voter', name=op.f('uq_consultation_answers_consultation_id_voter'))
    )
    op.create_table('consultation_recipients',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('consultation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('grid_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('answered', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['consultation_id'], ['consultations.id'], name=op.f('fk_consultation_recipients_consultation_id_consultations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['grid_id'], ['grids.id'], name=op.f('fk_consultation_recipients_grid_id_grids'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_consultation_recipients_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consultation_recipients')),
    sa.UniqueConstraint('consultation_id', 'user_id', name=op.f('uq_consultation_recipients_consultation_id_user_id'))
    )
    with op.batch_alter_table('consultation_recipients', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consultation_recipients_user_id'), ['user_id'], unique=False)

    # -- the district's organisation (issue 17) (was revision 0018)
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

    # -- deployment state (issue 19) (was revision 0021)
    op.create_table(
        "deployment_state",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=256), nullable=False),
        sa.Column("updated_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_deployment_state")),
    )

    # -- answers durable across a crash (issue 15) (was revision 0017)
    op.create_table(
        "outgoing_requests",
        sa.Column("inbound_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("body", sa.String(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("inbound_id", "seq", name=op.f("pk_outgoing_requests")),
    )


def downgrade() -> None:
    # -- answers durable across a crash (issue 15)
    op.drop_table("outgoing_requests")

    # -- deployment state (issue 19)
    op.drop_table("deployment_state")

    # -- the district's organisation (issue 17)
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

    # -- residents' consultations and family delegates (issue 17)
    with op.batch_alter_table('consultation_recipients', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consultation_recipients_user_id'))

    op.drop_table('consultation_recipients')
    op.drop_table('consultation_answers')
    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.drop_index('ix_family_links_resident_id_status')
        batch_op.drop_index('ix_family_links_delegate_id_status')

    op.drop_table('family_links')
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.drop_index('ix_consultations_status_closes_at')
        batch_op.drop_index('ix_consultations_community_id_created_at')

    op.drop_table('consultations')

    # -- escalations with handles (issue 20)
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_escalation_next_at")
        batch_op.drop_column("escalation_next_at")
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("accept_reminded_at")

    # -- Open311 GeoReport v2 (issue 18)
    with op.batch_alter_table("service_items", schema=None) as batch_op:
        batch_op.drop_column("private")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_updated_at_id")
        batch_op.drop_index("ix_cases_submitted_at_id")
        batch_op.drop_column("private")
    op.drop_index(op.f("ix_open311_requests_client_id"), table_name="open311_requests")
    op.drop_table("open311_requests")
    op.drop_table("open311_clients")
