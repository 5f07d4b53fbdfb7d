"""Indexes for the staff reports: the diary's counts read from the index alone.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTED = ["kind", "category", "deleted_at", "case_id", "household_id"]


def upgrade() -> None:
    with op.batch_alter_table("diary_entries", schema=None) as batch_op:
        batch_op.create_index("ix_diary_entries_grid_report", ["grid_id", "day", "worker_id", *COUNTED], unique=False)
        batch_op.create_index("ix_diary_entries_worker_report", ["worker_id", "day", "grid_id", *COUNTED],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("diary_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_diary_entries_worker_report")
        batch_op.drop_index("ix_diary_entries_grid_report")
