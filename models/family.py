"""Family delegates: a resident lets a family member act for them.

A link starts as a one-time invitation (``token_hash``: SHA-256 of the token
in the ``t.me/<bot>?start=fam_<token>`` deep link; the token itself is never
stored), valid 24 hours and used once.  The family member opening it makes it
``pending``; the resident's confirmation in chat makes it ``active``; either
side ends it (``ended``).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import DefaultNow, IdBase, UserCascade, UserSetNull

__all__ = ["FamilyLink", "FamilyLinkStatus"]


class FamilyLinkStatus(enum.StrEnum):
    invited = "invited"  # the link was made; nobody has opened it
    pending = "pending"  # a family member opened it; the resident has not confirmed
    active = "active"
    ended = "ended"  # ended by either side, refused, or the invitation expired unused


class FamilyLink(IdBase):
    __tablename__ = "family_links"
    __table_args__ = (
        Index("ix_family_links_delegate_id_status", "delegate_id", "status"),
        Index("ix_family_links_resident_id_status", "resident_id", "status"),
    )

    resident_id: Mapped[UserCascade]
    delegate_id: Mapped[UserCascade | None]
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[FamilyLinkStatus] = mapped_column(default=FamilyLinkStatus.invited)
    expires_at: Mapped[datetime]  # of the invitation
    # The resident keeps getting their own reminders and case messages (else only the delegate does).
    resident_copies: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[DefaultNow]
    opened_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_by_id: Mapped[UserSetNull]
