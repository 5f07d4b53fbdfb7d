"""Outer middlewares: one database session per update, and the current user.

``DbSessionMiddleware`` is where an inbound update becomes *done*: the row
is marked done by a ``before_commit`` hook of the session the handler uses, so
the mark is committed together with the handler's effects, and with the
handler's answers (``bot/answers.py`` defers them into the same commit and
sends them once it is through).

``CommitBeforeRequest`` (a middleware on the bot's HTTP session, used where
answers are not deferred: the delivery engine's own bot, tests) commits the
update's session before every request to Telegram, so no write lock is held
across a network round trip (SQLite has a single writer: a lock held during a
slow send would stall every other chat).  An update is done once its effects
are committed, so it is never handled twice; an update whose handler had not
reached that commit is handled again after a restart.

``commit_keep_pending`` commits without the done-mark, for a handler with
slow work of its own (a report's files take seconds to render): the write
lock is not held across that work, yet the update stays ``pending`` until
its final commit, which carries the done-mark, the rest of its effects and
all its answers (those deferred before the early commit included: it does
not record them).  Killed in between, the process leaves the update pending
and the next run handles it again from the start (on PostgreSQL the row's
lease is kept meanwhile, so no other process takes it over while this one
lives; a later update of the same chat waits for it).  So what a handler
writes before such a commit must be safe to write again (reads, the user's
row, nothing the re-run would do differently), and what it must write only
once (a conversation step that ends, as the typed dates of a report do)
comes after it.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.fsm.middleware import FSMContextMiddleware
from aiogram.fsm.storage.memory import DisabledEventIsolation
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from sqlalchemy import bindparam, event, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.i18n import telegram_locale
from bot.services import users as user_service
from models import InboundStatus, InboundUpdate, utcnow
from models.database import runs_in_place
from models.direct import DirectStatement

log = logging.getLogger(__name__)

# The session of the update being handled, for code that cannot receive it as
# an argument (the FSM storage): its writes then join the handler's transaction.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DbSessionMiddleware(BaseMiddleware):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], answers: Any = None) -> None:
        """``answers``: the bot's ``bot.answers.AnswerJournal``, if its answers are deferred."""
        self.sessionmaker = sessionmaker
        self.answers = answers
        bind = sessionmaker.kw.get("bind")
        self.close_in_place = runs_in_place(bind)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        if not self.close_in_place:
            async with self.sessionmaker() as session:
                return await self._handle(session, handler, event, data)
        session = self.sessionmaker()
        try:
            return await self._handle(session, handler, event, data)
        finally:
            await session.close()  # never suspends: see models.database.runs_in_place

    async def _handle(self, session: AsyncSession, handler: Handler, event: TelegramObject,
                      data: dict[str, Any]) -> Any:
        inbound_id = data.get("inbound_id")
        answers = None
        if inbound_id is not None:
            session.sync_session.info[_INBOUND_ID] = inbound_id
            if self.answers is not None:
                chat = data.get("event_chat") or data.get("event_from_user")
                answers = self.answers.begin(session, inbound_id, event, chat.id if chat is not None else None)
        data["session"] = session
        token = current_session.set(session)
        try:
            result = await handler(event, data)
        except Exception:
            await session.rollback()
            if answers is not None and answers.committed:  # committed before the failure: still sent
                current_session.reset(token)
                token = None
                await self.answers.flush(data["bot"], answers)
            raise
        except BaseException:
            await session.rollback()
            raise
        finally:
            if token is not None:
                current_session.reset(token)
        sync = session.sync_session
        if (session.in_transaction() or sync.new or sync.dirty or sync.deleted
                or (inbound_id is not None and not sync.info.get(_INBOUND_MARKED))
                or (answers is not None and answers.uncommitted)):
            await session.commit()
        if answers is not None and answers.committed:
            await self.answers.flush(data["bot"], answers)
        return result


_INBOUND_ID, _INBOUND_MARKED = "gridbot.inbound_id", "gridbot.inbound_marked"
_KEEP_PENDING = "gridbot.keep_pending"


async def commit_keep_pending(session: AsyncSession) -> None:
    """Commit the update's work so far without marking the update done (see the
    module): no transaction stays open across the slow work that follows, and a
    crash during it leaves the update to be handled again.  The answers deferred
    so far are not recorded by this commit: they go with the update's final one."""
    sync = session.sync_session
    if not (session.in_transaction() or sync.new or sync.dirty or sync.deleted):
        return  # nothing open: nothing to commit, no lock to free
    sync.info[_KEEP_PENDING] = True
    try:
        await session.commit()
    finally:
        sync.info.pop(_KEEP_PENDING, None)


def keeps_pending(session: Session) -> bool:
    """Whether the commit under way is a :func:`commit_keep_pending` (for the other
    ``before_commit`` hooks: the deferred answers wait for the update's final commit)."""
    return bool(session.info.get(_KEEP_PENDING))


_inbound = InboundUpdate.__table__
# Built once: a Core statement on the session's connection, no ORM bookkeeping.
# Only a pending row is marked: if another process took the update over and
# finished it first, this transaction must not commit the same effects again.
_MARK_DONE = (
    update(_inbound)
    .where(_inbound.c.id == bindparam("inbound_id"), _inbound.c.status == InboundStatus.pending)
    .values(status=InboundStatus.done, processed_at=bindparam("processed_at"))
)


class UpdateAlreadyDone(Exception):  # noqa: N818 - a state, not an error of ours
    """The update was finished elsewhere (a process that took it over): this
    transaction is rolled back instead of committing its effects twice."""


# On SQLite run in place the mark goes to sqlite3 directly (models/direct.py).
_MARK_DONE_DIRECT = DirectStatement(_MARK_DONE)


@event.listens_for(Session, "before_commit")
def _mark_inbound_done(session: Session) -> None:
    """Mark the session's inbound update done inside the transaction being
    committed (the first commit that succeeds carries it, unless it is a
    :func:`commit_keep_pending`)."""
    inbound_id = session.info.get(_INBOUND_ID)
    if inbound_id is None or session.info.get(_INBOUND_MARKED) or session.info.get(_KEEP_PENDING):
        return
    marked = _MARK_DONE_DIRECT.run_sync(session.connection(), {"inbound_id": inbound_id, "processed_at": utcnow()})
    if marked.rowcount != 1:
        raise UpdateAlreadyDone(f"inbound update {inbound_id} is no longer pending")


@event.listens_for(Session, "after_commit")
def _inbound_marked(session: Session) -> None:
    if _INBOUND_ID in session.info and not session.info.get(_KEEP_PENDING):
        session.info[_INBOUND_MARKED] = True


class CommitBeforeRequest(BaseRequestMiddleware):
    """Commit the current update's session before any request to Telegram."""

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        session = current_session.get()
        if session is not None and session.in_transaction():
            await session.commit()
        return await make_request(bot, method)


class UserMiddleware(BaseMiddleware):
    """Loads (or creates, unregistered) the :class:`models.User` behind the update.

    With the database FSM storage it reads the conversation state in the same
    statement and hands it to the storage, so aiogram's FSM middleware (which
    runs next) costs no query of its own.
    """

    def __init__(self, fsm: FSMContextMiddleware | None = None) -> None:
        self.fsm = fsm

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        session: AsyncSession | None = data.get("session")
        if tg_user is not None and session is not None and not tg_user.is_bot:
            # Only a storage that takes a prefetched state (bot.fsm_storage.SQLStorage).
            storage = self.fsm.storage if self.fsm is not None else None
            context = (
                self.fsm.resolve_event_context(data["bot"], data)
                if self.fsm is not None and hasattr(storage, "prefetched")
                else None
            )
            if context is not None:
                data[RESOLVED_CONTEXT] = context  # ConversationMiddleware's, resolved once
            state_key = storage.state_key(context.key) if context is not None else None  # type: ignore[union-attr]
            data["user"], state = await user_service.get_or_create_with_state(
                session,
                telegram_id=tg_user.id,
                first_name=tg_user.first_name,
                last_name=tg_user.last_name,
                username=tg_user.username,
                state_key=state_key,
                locale=telegram_locale(tg_user.language_code),
            )
            if state_key is not None and state is not user_service.NO_STATE_READ:
                storage.prefetched(session, state_key, state)  # type: ignore[union-attr]
        return await handler(event, data)


# The conversation context UserMiddleware resolved, handed to ConversationMiddleware.
RESOLVED_CONTEXT = "gridbot_fsm_context"


class ConversationMiddleware(FSMContextMiddleware):
    """aiogram's FSM middleware, the conversation state in ``data`` as it puts it
    (``state``, ``raw_state``, ``fsm_storage``), without doing twice what
    :class:`UserMiddleware` did: the context it resolved is taken over, and with
    aiogram's ``DisabledEventIsolation`` (the default; gridbot handles one
    chat's updates one at a time, bot/inbound.py) no lock is entered, which that
    lock would not have held anyway.  Any other isolation is entered as aiogram does."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        context = data.pop(RESOLVED_CONTEXT, None) or self.resolve_event_context(data["bot"], data)
        data["fsm_storage"] = self.storage
        if context is None:
            return await handler(event, data)
        if type(self.events_isolation) is DisabledEventIsolation:
            data["state"], data["raw_state"] = context, await context.get_state()
            return await handler(event, data)
        async with self.events_isolation.lock(key=context.key):
            data["state"], data["raw_state"] = context, await context.get_state()
            return await handler(event, data)

    @classmethod
    def replacing(cls, fsm: FSMContextMiddleware) -> ConversationMiddleware:
        """One with the storage, isolation and strategy of ``fsm`` (a dispatcher's own)."""
        return cls(storage=fsm.storage, events_isolation=fsm.events_isolation, strategy=fsm.strategy)
