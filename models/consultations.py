"""Residents' consultations (群众议事): a question put to the residents of a
building, grid or community, and their anonymous answers.

Anonymity is kept in the tables themselves, not only in what the bot shows:

* ``consultation_recipients`` says who was asked and whether they answered
  (turnout), never what;
* ``consultation_answers`` holds what was answered (a choice or an open text)
  under a *voter key* (SHA-256 of the consultation's random ``salt`` and the
  user's id), with no user id and no time.  The key lets a resident change
  their answer while the consultation is open; the salt is erased when it
  closes, so afterwards not even the database links an answer to a person.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import DefaultNow, IdBase, JSONType, UserCascade, UserSetNull
from models.delivery import BroadcastScope

__all__ = ["Consultation", "ConsultationAnswer", "ConsultationRecipient",
           "ConsultationStatus"]


class ConsultationStatus(enum.StrEnum):
    open = "open"  # residents answer until closes_at
    closed = "closed"  # results posted back to those asked


class Consultation(IdBase):
    __tablename__ = "consultations"
    __table_args__ = (
        Index("ix_consultations_status_closes_at", "status", "closes_at"),
        Index("ix_consultations_community_id_created_at", "community_id", "created_at"),
    )

    created_by_id: Mapped[UserSetNull]
    scope_type: Mapped[BroadcastScope]
    scope_id: Mapped[int] = mapped_column(BigInteger)
    # Where it was asked, for the reports: the community always, the grid when one grid (or a building of it).
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"))
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(Text)
    # The choices, in order; empty: open answers (free text).
    choices: Mapped[list[str]] = mapped_column(JSONType, default=list)
    status: Mapped[ConsultationStatus] = mapped_column(default=ConsultationStatus.open)
    closes_at: Mapped[datetime]
    # Erased (None) when it closes: see the module's docstring.
    salt: Mapped[str | None] = mapped_column(String(64))
    asked: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[DefaultNow]
    closed_at: Mapped[datetime | None]


class ConsultationRecipient(IdBase):
    """Who was asked (fixed when it is sent) and whether they answered; never what."""

    __tablename__ = "consultation_recipients"
    __table_args__ = (UniqueConstraint("consultation_id", "user_id"),)

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    user_id: Mapped[UserCascade] = mapped_column(index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"))
    answered: Mapped[bool] = mapped_column(default=False)


class ConsultationAnswer(IdBase):
    """One resident's answer under their voter key: no user id, no time."""

    __tablename__ = "consultation_answers"
    __table_args__ = (UniqueConstraint("consultation_id", "voter"),)

    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id", ondelete="CASCADE"))
    voter: Mapped[str] = mapped_column(String(64))
    choice: Mapped[int | None]   # index into choices
    text: Mapped[str | None] = mapped_column(Text)  # an open answer
