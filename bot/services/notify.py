"""The one way services send a message on their own initiative.

``notify`` only writes an outbox row in the caller's session: it is committed
with the state change that caused it, or not at all, and the delivery engine
sends it later within Telegram's limits.  Text is rendered by the caller in
the recipient's language (see :func:`recipient_locale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import OutboxKind, OutboxMessage, OutboxStatus, User, utcnow


@dataclass(frozen=True, slots=True)
class Button:
    text: str
    callback_data: str | None = None
    url: str | None = None

    def as_dict(self) -> dict[str, str]:
        out = {"text": self.text}
        if self.callback_data is not None:
            out["callback_data"] = self.callback_data
        if self.url is not None:
            out["url"] = self.url
        return out


def recipient_locale(user: User, default: str) -> str:
    return user.locale or default


async def notify(
    session: AsyncSession,
    *,
    recipient: User | None = None,
    chat_id: int | None = None,
    kind: OutboxKind,
    dedupe_key: str,
    text: str,
    buttons: list[list[Button]] | None = None,
    photo: str | None = None,
    document: str | None = None,
    urgent: bool = False,
    due_at: datetime | None = None,
    broadcast_id: int | None = None,
) -> bool:
    """Queue one message.  Returns False when ``dedupe_key`` was already queued.

    ``recipient`` is a user of ours (they must have a Telegram id); ``chat_id``
    addresses a chat directly.  ``photo``/``document`` are Telegram file ids;
    ``text`` is then the caption.
    """
    if recipient is not None:
        if recipient.telegram_id is None:
            return False  # registered on someone's behalf, not on Telegram
        target_chat, user_id = recipient.telegram_id, recipient.id
    elif chat_id is not None:
        target_chat, user_id = chat_id, None
    else:
        raise ValueError("notify() needs a recipient or a chat_id")
    payload: dict[str, Any] = {"text": text}
    if buttons:
        payload["buttons"] = [[b.as_dict() for b in row] for row in buttons]
    if photo:
        payload["photo"] = photo
    if document:
        payload["document"] = document
    when = due_at or utcnow()
    values = {
        "user_id": user_id,
        "chat_id": target_chat,
        "kind": kind,
        "urgent": urgent,
        "payload": payload,
        "dedupe_key": dedupe_key[:200],
        "status": OutboxStatus.pending,
        "due_at": when,
        "next_attempt_at": when,
        "attempts": 0,
        "broadcast_id": broadcast_id,
        "created_at": utcnow(),
    }
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    return bool(result.rowcount)
