"""Open311 GeoReport v2 (bot/services/open311, docs/open311.md): the clients
that may file requests, and what each request filed through the API carries
beside its case.

A client's key is stored as its SHA-256 digest only: the key itself is
printed once by ``python -m bot open311-key`` and never kept.  Each client
stands as the *resident* of the cases it files (a user row without a
Telegram id, so the loop's messages to "the resident" are simply not sent);
the person behind the request is reachable through the contact the client
gave, stored here and never published.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import CaseCascade, DefaultNow, IdBase, UserRestrict

__all__ = ["Open311Client", "Open311Request"]


class Open311Client(IdBase):
    __tablename__ = "open311_clients"

    name: Mapped[str] = mapped_column(String(64), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # sha256 hex of the key
    user_id: Mapped[UserRestrict]
    created_at: Mapped[DefaultNow]
    revoked_at: Mapped[datetime | None]


class Open311Request(IdBase):
    """A case filed through the API: its token, the reporter's contact (private)
    and the public media link the client gave."""

    __tablename__ = "open311_requests"

    case_id: Mapped[CaseCascade] = mapped_column(unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("open311_clients.id", ondelete="RESTRICT"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(32))
    first_name: Mapped[str | None] = mapped_column(String(128))
    last_name: Mapped[str | None] = mapped_column(String(128))
    device_id: Mapped[str | None] = mapped_column(String(128))
    account_id: Mapped[str | None] = mapped_column(String(128))
    media_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[DefaultNow]
