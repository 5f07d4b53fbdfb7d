"""Uploads durable like the other answers: the bytes of the files an update's
answer uploads, recorded with the request in ``outgoing_requests`` and deleted
with it once Telegram answered (``bot/answers.py``).  A new table only.

Revision ID: 0025
Revises: 0024
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outgoing_files",
        sa.Column("inbound_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["inbound_id", "seq"], ["outgoing_requests.inbound_id", "outgoing_requests.seq"],
                                name=op.f("fk_outgoing_files_inbound_id_outgoing_requests"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("inbound_id", "seq", "name", name=op.f("pk_outgoing_files")),
    )


def downgrade() -> None:
    op.drop_table("outgoing_files")
