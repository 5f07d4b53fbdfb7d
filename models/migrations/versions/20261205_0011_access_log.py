"""The access log: who viewed a resident's phone or a household's care tags,
and every role change.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_log",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("at", models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("action", sa.Enum("phone_viewed", "tags_viewed", "role_granted", "role_revoked",
                                    name="accessaction", native_enum=False, length=16), nullable=False),
        sa.Column("subject_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("object_type", sa.String(length=16), nullable=True),
        sa.Column("object_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=True),
        sa.Column("district_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_access_log_actor_id_users"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["subject_id"], ["users.id"], name=op.f("fk_access_log_subject_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_community_id_id", ["community_id", "id"], unique=False)
        batch_op.create_index("ix_access_log_district_id_id", ["district_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_access_log_district_id_id")
        batch_op.drop_index("ix_access_log_community_id_id")
    op.drop_table("access_log")
