"""Escalations with handles: the reminder before the acceptance limit and the
level the alert has climbed to (grid head, community staff, district), with
when the next level is due.

Revision ID: 0023
Revises: 0020
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0023"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accept_reminded_at", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("escalation_next_at", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_cases_escalation_next_at", ["escalation_next_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_escalation_next_at")
        batch_op.drop_column("escalation_next_at")
        batch_op.drop_column("escalation_level")
        batch_op.drop_column("accept_reminded_at")
