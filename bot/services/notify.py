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

from sqlalchemy import event, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from bot.services.escape import esc
from bot.services.l10n import translator
from models import (
    FamilyLink,
    FamilyLinkStatus,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    User,
    utcnow,
)

INSERT_CHUNK = 5000
# What a family delegate (docs/family.md) gets a copy of, and what a resident who
# chose "only my family member" no longer gets themselves: reminders and case news.
DELEGATED_KINDS = frozenset({OutboxKind.reminder, OutboxKind.case_update})


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
    copies: list[tuple[User, str]] = []
    if recipient is not None:
        if recipient.telegram_id is None:
            return False  # registered on someone's behalf, not on Telegram
        if recipient.unreachable:
            return False  # blocked the bot: never tried again (until they come back)
        target_chat, user_id = recipient.telegram_id, recipient.id
        if kind in DELEGATED_KINDS:
            copies, resident_too = await _delegates(session, recipient)
            if not resident_too:
                target_chat = 0  # only the copies go out (the resident chose so)
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
    queued = False
    if target_chat:
        result = await session.execute(
            insert(OutboxMessage).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
        )
        queued = bool(result.rowcount)
    for delegate, prefix in copies:
        copy = {**values, "user_id": delegate.id, "chat_id": delegate.telegram_id,
                "payload": {**payload, "text": f"{prefix}\n{text}"}, "dedupe_key": f"{dedupe_key[:190]}:fd{delegate.id}"}
        result = await session.execute(
            insert(OutboxMessage).values(**copy).on_conflict_do_nothing(index_elements=["dedupe_key"]))
        queued = bool(result.rowcount) or queued
    if queued:
        wake_sender_after_commit(session)
    return queued


async def _delegates(session: AsyncSession, resident: User) -> tuple[list[tuple[User, str]], bool]:
    """The family delegates acting for ``resident`` now (docs/family.md), each with the line
    that heads their copy in their own language, and whether the resident still gets their own."""
    rows = (await session.execute(
        select(User, FamilyLink.resident_copies).join(FamilyLink, FamilyLink.delegate_id == User.id)
        .where(FamilyLink.resident_id == resident.id, FamilyLink.status == FamilyLinkStatus.active,
               User.telegram_id.is_not(None), User.unreachable.is_(False)).order_by(FamilyLink.id))).all()
    out = []
    for delegate, _resident_copies in rows:
        _ = translator(delegate.locale or resident.locale or "zh-Hans")
        out.append((delegate, _("👪 For {name}:").format(name=esc(resident.first_name or ""))))
    # Here rather than in bot.services.family, which sends through this module.
    return out, not rows or any(resident_copies for _delegate, resident_copies in rows)


# A queueing this large refreshes the planner's statistics of the outbox (PostgreSQL).
ANALYZE_AFTER_ROWS = 10_000


async def counted_by_the_planner(session: AsyncSession, queued: int) -> None:
    """After ``queued`` rows were inserted at once: on PostgreSQL, when they are many,
    refresh the outbox's statistics.  Until autovacuum's analyze comes (a minute or more
    later) the planner believes the row counts of before: counting a few hundred due rows
    where two million wait, it sorted them all for each sender's claim of 500
    (benchmarks/README.md, the city broadcast).  This transaction's own rows count in
    the sample; the new figures hold from its commit."""
    if queued >= ANALYZE_AFTER_ROWS and session.bind.dialect.name == "postgresql":
        await session.execute(text("ANALYZE outbox"))


async def queue_many(session: AsyncSession, rows: list[tuple[int, int, dict[str, Any]]], *, kind: OutboxKind,
                     dedupe_prefix: str, now: datetime, due_at: datetime | None = None,
                     broadcast_id: int | None = None) -> int:
    """Queue one message per ``(user_id, chat_id, payload)`` in chunked bulk INSERTs (a broadcast,
    a consultation and its result to thousands): dedupe key ``{dedupe_prefix}:{user_id}``; due
    at ``due_at`` (None: at once, as :func:`notify`)."""
    table = OutboxMessage.__table__
    due_at = due_at or utcnow()
    values = [
        {"user_id": uid, "chat_id": chat, "kind": kind, "urgent": False, "payload": payload,
         "dedupe_key": f"{dedupe_prefix}:{uid}", "status": OutboxStatus.pending, "due_at": due_at,
         "next_attempt_at": due_at, "attempts": 0, "resends": 0, "broadcast_id": broadcast_id, "created_at": now,
         "event_at": None}
        for uid, chat, payload in rows
    ]
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    for i in range(0, len(values), INSERT_CHUNK):
        await session.execute(insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]),
                              values[i:i + INSERT_CHUNK])
    await counted_by_the_planner(session, len(values))
    if values:
        wake_sender_after_commit(session)
    return len(values)


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
