"""Inbound updates are told apart by id and content: Telegram reuses ids.

After a week without updates Telegram starts update ids again at a random
value, so an id alone cannot tell a redelivery (the same update again) from a
new update.  ``payload_hash`` (a digest of the update's canonical JSON) joins
the unique key; rows stored before it have none and never conflict.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload_hash", sa.String(length=32), nullable=True))
        batch_op.drop_constraint("uq_inbound_updates_bot_id_update_id", type_="unique")
        batch_op.create_unique_constraint("uq_inbound_updates_bot_id_update_id_payload_hash",
                                          ["bot_id", "update_id", "payload_hash"])


def downgrade() -> None:
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.drop_constraint("uq_inbound_updates_bot_id_update_id_payload_hash", type_="unique")
        batch_op.create_unique_constraint("uq_inbound_updates_bot_id_update_id", ["bot_id", "update_id"])
        batch_op.drop_column("payload_hash")
