"""Drop the diary's (worker_id, day) and (grid_id, day) indexes.

Migration 0008's covering indexes begin with the same columns
((grid_id, day, worker_id, …) and (worker_id, day, grid_id, …)), so every
query these two served is served by those; keeping them only cost writes.

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("diary_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_diary_entries_worker_id_day")
        batch_op.drop_index("ix_diary_entries_grid_id_day")


def downgrade() -> None:
    with op.batch_alter_table("diary_entries", schema=None) as batch_op:
        batch_op.create_index("ix_diary_entries_grid_id_day", ["grid_id", "day"], unique=False)
        batch_op.create_index("ix_diary_entries_worker_id_day", ["worker_id", "day"], unique=False)
