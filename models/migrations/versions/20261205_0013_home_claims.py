"""A resident's home building is a claim until it is confirmed.

``users.home_confirmed_at`` / ``home_confirmed_by_id``: set when a worker of
the building's grid confirms that the resident lives there, or when an
organisation file (the demo district included) states it (``by`` is then
null).  Residents registered before this runs start unconfirmed: a worker of
their grid confirms them once (``seed-demo`` re-imports the demo residents,
which confirms them).

Revision ID: 0013
Revises: 0011
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("home_confirmed_at", models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("home_confirmed_by_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                                      nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_users_home_confirmed_by_id_users"), "users",
                                    ["home_confirmed_by_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_home_confirmed_by_id_users"), type_="foreignkey")
        batch_op.drop_column("home_confirmed_by_id")
        batch_op.drop_column("home_confirmed_at")
