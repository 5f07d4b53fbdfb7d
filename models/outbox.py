"""The outbox: every message the bot sends on its own initiative.

Rows are written in the same transaction as the change that causes them
(:func:`bot.services.notify.notify`), then delivered by the delivery engine
within Telegram's limits.  ``dedupe_key`` is unique: writing the same
notification twice (a retried handler, a job run twice) stores it once.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import DefaultNow, IdBase, JSONType, UserCascade

__all__ = ["OutboxKind", "OutboxMessage", "OutboxStatus"]


class OutboxKind(enum.StrEnum):
    """What a message is; decides quiet hours and what happens to an unknown outcome."""

    emergency = "emergency"  # never held, resent once if the outcome is unknown
    case_update = "case_update"  # resent once if unknown
    reminder = "reminder"  # resent once if unknown
    nudge = "nudge"  # diary nudges, due-visit lists
    digest = "digest"  # weekly digests and reports
    broadcast = "broadcast"  # staff notices: never resent if unknown


class OutboxStatus(enum.StrEnum):
    pending = "pending"  # waiting for due_at / next_attempt_at
    claimed = "claimed"  # leased by a sender, no request made yet (back to pending if the lease expires)
    sending = "sending"  # marked just before the request: it may be in flight
    sent = "sent"
    unknown = "unknown"  # the process died or timed out mid-call and it is not (or no longer) resent
    failed = "failed"  # dead-lettered after the last attempt, error kept
    unreachable = "unreachable"  # 403: the user blocked the bot
    cancelled = "cancelled"  # e.g. a reminder of a cancelled appointment


class OutboxMessage(IdBase):
    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_status_next_attempt_at_id", "status", "next_attempt_at", "id"),  # the claim's order
        Index("ix_outbox_broadcast_id_status", "broadcast_id", "status"),
    )

    # The recipient: a user of ours (resolved to a chat when sent) or a raw chat id.
    user_id: Mapped[UserCascade | None] = mapped_column(index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[OutboxKind]
    urgent: Mapped[bool] = mapped_column(default=False)
    # {"text": ..., "photo": file_id?, "document": file_id?, "buttons": [[{"text", "callback_data"|"url"}]],
    #  "parse_mode": "HTML"}
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    status: Mapped[OutboxStatus] = mapped_column(default=OutboxStatus.pending)
    due_at: Mapped[DefaultNow]
    next_attempt_at: Mapped[DefaultNow]
    attempts: Mapped[int] = mapped_column(default=0)
    # How often an unknown outcome (crash or timeout mid-call) led to a resend.
    resends: Mapped[int] = mapped_column(default=0, server_default="0")
    # What the message is about, when it has a time (an appointment's start): a
    # reminder for something less than an hour away is never held by quiet hours.
    event_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(2000))
    broadcast_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[DefaultNow]
