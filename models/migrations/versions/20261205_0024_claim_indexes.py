"""The outbox's claim at a city's size: an index in the claim's own order.

A sender claims the due rows ordered by ``(next_attempt_at, id)``.  The index on
``(status, next_attempt_at)`` found them but not in that order, so PostgreSQL sorted
every due row to return 500: 0.9 s a claim with two million rows queued (one city
broadcast), which held two senders to 37% of the paid rate (benchmarks/README.md).
``(status, next_attempt_at, id)`` serves the order as it is: 0.4 ms at the same size.
It replaces the old index (its prefix, so nothing loses by the drop).  The claim's
check for users who blocked the bot gets a partial index on those few users instead
of reading every user's row.

On PostgreSQL both are built ``CONCURRENTLY`` (outside a transaction), so running
processes keep sending while a large outbox is indexed.  Additive for old code:
only indexes change.

Revision ID: 0024
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | Sequence[str] | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNREACHABLE = sa.text("unreachable")


def upgrade() -> None:
    concurrently = op.get_bind().dialect.name == "postgresql"
    with op.get_context().autocommit_block():
        op.create_index("ix_outbox_status_next_attempt_at_id", "outbox", ["status", "next_attempt_at", "id"],
                        postgresql_concurrently=concurrently, if_not_exists=True)
        op.drop_index("ix_outbox_status_next_attempt_at", table_name="outbox",
                      postgresql_concurrently=concurrently, if_exists=True)
        op.create_index("ix_users_unreachable", "users", ["id"], postgresql_where=_UNREACHABLE,
                        sqlite_where=_UNREACHABLE, postgresql_concurrently=concurrently, if_not_exists=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_users_unreachable", table_name="users", if_exists=True)
        op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"],
                        if_not_exists=True)
        op.drop_index("ix_outbox_status_next_attempt_at_id", table_name="outbox", if_exists=True)
