"""The one way services send a message on their own initiative.

``notify`` only writes an outbox row in the caller's session: it is committed
with the state change that caused it, or not at all, and the delivery engine
sends it later within Telegram's limits.  Text is rendered by the caller in
the recipient's language (see :func:`recipient_locale`).

What the engine does with a row depends on ``kind`` and ``urgent``:
emergencies are always urgent; urgent rows and rows whose ``event_at`` (the
appointment a reminder is about) is less than an hour away are never held by
quiet hours; a row whose outcome is unknown (the process died mid-call) is
resent once for emergencies, case updates and reminders, never otherwise.
A user who blocked the bot (``User.unreachable``) gets nothing queued.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import event
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

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
    event_at: datetime | None = None,
    parse_mode: str | None = None,
    voice: str | None = None,
    audio: str | None = None,
    video: str | None = None,
    video_note: str | None = None,
    location: tuple[float, float] | None = None,
) -> bool:
    """Queue one message.  Returns False when ``dedupe_key`` was already queued
    (or the recipient cannot be reached on Telegram).

    ``recipient`` is a user of ours (they must have a Telegram id); ``chat_id``
    addresses a chat directly.  ``photo``/``document`` are Telegram file ids;
    ``text`` is then the caption.  ``text`` is HTML unless ``parse_mode`` says
    otherwise.  ``due_at``: not before then.  ``event_at``: when the thing the
    message is about happens (quiet hours do not hold it within the hour).
    """
    if recipient is not None:
        if recipient.telegram_id is None:
            return False  # registered on someone's behalf, not on Telegram
        if recipient.unreachable:
            return False  # blocked the bot: never tried again (until they come back)
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
    # Relayed case messages (bot/services/cases/relay.py) re-send what a person
    # sent by its file id: the caption is ``text``; a location is sent on its
    # own (``text`` then follows as a message of its own).
    for key, file_id in (("voice", voice), ("audio", audio), ("video", video), ("video_note", video_note)):
        if file_id:
            payload[key] = file_id
    if location is not None:
        payload["location"] = {"latitude": location[0], "longitude": location[1]}
    if parse_mode:
        payload["parse_mode"] = parse_mode
    when = due_at or utcnow()
    values = {
        "user_id": user_id,
        "chat_id": target_chat,
        "kind": kind,
        "urgent": urgent or kind == OutboxKind.emergency,
        "payload": payload,
        "dedupe_key": dedupe_key[:200],
        "status": OutboxStatus.pending,
        "due_at": when,
        "next_attempt_at": when,
        "attempts": 0,
        "broadcast_id": broadcast_id,
        "event_at": event_at,
        "resends": 0,
        "created_at": utcnow(),
    }
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    )
    queued = bool(result.rowcount)
    if queued:
        wake_sender_after_commit(session)
    return queued


class Listener(Protocol):
    def wake(self) -> None: ...


# This process's senders (bot.delivery.engine.Sender), told when new rows are committed.
_listeners: weakref.WeakSet[Listener] = weakref.WeakSet()


def listen_for_rows(listener: Listener) -> None:
    _listeners.add(listener)


def stop_listening(listener: Listener) -> None:
    _listeners.discard(listener)


def wake_senders() -> None:
    """New rows were committed in this process: senders look at once instead of at their next poll."""
    for listener in list(_listeners):
        listener.wake()


def wake_sender_after_commit(session: AsyncSession) -> None:
    """Let this process's sender look at the outbox as soon as the rows are committed."""
    sync_session = session.sync_session
    sync_session.info["delivery_wake"] = True
    if sync_session.info.get("delivery_hooked"):
        return
    sync_session.info["delivery_hooked"] = True

    def after_commit(s: Session) -> None:
        if s.info.pop("delivery_wake", False):
            wake_senders()

    def after_rollback(s: Session, _previous: object = None) -> None:
        s.info.pop("delivery_wake", None)

    event.listen(sync_session, "after_commit", after_commit)
    event.listen(sync_session, "after_rollback", after_rollback)
