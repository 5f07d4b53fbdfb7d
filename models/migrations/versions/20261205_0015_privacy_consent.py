"""Privacy consent: when a person agreed to the privacy notice, a
household's separate consent to its sensitive tags (who recorded it, when),
and the registered resident a household is (who may see its tags).

Revision ID: 0015
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("privacy_consent_at", models.base.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sensitive_consent_at", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sensitive_consent_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                      nullable=True))
        batch_op.create_foreign_key("fk_households_sensitive_consent_by_id_users", "users",
                                    ["sensitive_consent_by_id"], ["id"], ondelete="SET NULL")
        batch_op.add_column(sa.Column("resident_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                      nullable=True))
        batch_op.create_foreign_key("fk_households_resident_id_users", "users", ["resident_id"], ["id"],
                                    ondelete="SET NULL")
        batch_op.create_index("ix_households_resident_id", ["resident_id"], unique=False)
    # Households tagged before consent was asked for: the tags were set by their
    # grid head or staff, who keep answering for them; mark them as consented then.
    op.execute("UPDATE households SET sensitive_consent_at = updated_at "
               "WHERE id IN (SELECT household_id FROM household_tags)")


def downgrade() -> None:
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_index("ix_households_resident_id")
        batch_op.drop_constraint("fk_households_resident_id_users", type_="foreignkey")
        batch_op.drop_column("resident_id")
        batch_op.drop_constraint("fk_households_sensitive_consent_by_id_users", type_="foreignkey")
        batch_op.drop_column("sensitive_consent_by_id")
        batch_op.drop_column("sensitive_consent_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("privacy_consent_at")
