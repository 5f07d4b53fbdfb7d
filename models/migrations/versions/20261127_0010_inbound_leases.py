"""Inbound updates carry a lease: which process handles them, and until when.

Several bot processes on one PostgreSQL database (webhooks behind a balancer)
each store the updates they receive.  ``owner`` and ``lease_until`` let a
process take over the pending updates of one that died, without taking those
of one that is alive; the (bot_id, chat_id, update_id) index serves the check
that keeps one chat's updates in order across processes.

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("lease_until", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index("ix_inbound_updates_bot_id_chat_id_update_id", ["bot_id", "chat_id", "update_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_updates_bot_id_chat_id_update_id")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("owner")
