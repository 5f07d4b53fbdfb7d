"""Residents' consultations (群众议事) and family delegates: four new tables.

Revision ID: 0019
Revises: 0023
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

import models.base

revision: str = "0019"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
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



def downgrade() -> None:
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
