"""The access log: who saw a resident's phone or a household's care tags, and
every role change (PIPL's records of processing)."""

from __future__ import annotations

import enum

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import DefaultNow, IdBase, UserSetNull

__all__ = ["AccessAction", "AccessLog"]


class AccessAction(enum.StrEnum):
    phone_viewed = "phone_viewed"  # a resident's phone was shown (object: the case)
    tags_viewed = "tags_viewed"  # a household's care tags were shown (object: household or building)
    role_granted = "role_granted"  # detail: role@scope code, and how (invite, import)
    role_revoked = "role_revoked"  # detail: role@scope code, and how (cli, chat, import)


class AccessLog(IdBase):
    """One row per access or role change, written in the transaction that did it.

    ``community_id`` / ``district_id`` place the row so staff read their
    community's rows and administrators their district's with one index each.
    """

    __tablename__ = "access_log"
    __table_args__ = (
        Index("ix_access_log_community_id_id", "community_id", "id"),
        Index("ix_access_log_district_id_id", "district_id", "id"),
    )

    at: Mapped[DefaultNow]
    # Null: the operator's command line, or a person since erased.
    actor_id: Mapped[UserSetNull]
    action: Mapped[AccessAction]
    # Whose data (the resident whose phone; the person whose role).
    subject_id: Mapped[UserSetNull]
    object_type: Mapped[str | None] = mapped_column(String(16))  # case, household, building, grant
    object_id: Mapped[int | None] = mapped_column(BigInteger)
    detail: Mapped[str] = mapped_column(String(200), default="")
    community_id: Mapped[int | None] = mapped_column(BigInteger)
    district_id: Mapped[int | None] = mapped_column(BigInteger)
