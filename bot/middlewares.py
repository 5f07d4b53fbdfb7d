"""Outer middlewares: one database session per update, and the current user.

``DbSessionMiddleware`` is where an inbound update becomes *done*: the row
is marked done by a ``before_commit`` hook of the session the handler uses, so
the mark is committed together with the handler's effects (a handler that
commits early, e.g. to persist a resident's message before replying, commits
both).  Marking at commit time, not at the start, keeps write locks short:
SQLite has one writer, and a lock held across a Telegram round trip would
serialise every chat.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject
from aiogram.types import User as TgUser
from sqlalchemy import event, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from bot.services import users as user_service
from models import InboundStatus, InboundUpdate, utcnow

log = logging.getLogger(__name__)

# The session of the update being handled, for code that cannot receive it as
# an argument (the FSM storage): its writes then join the handler's transaction.
current_session: ContextVar[AsyncSession | None] = ContextVar("current_session", default=None)

Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class DbSessionMiddleware(BaseMiddleware):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        async with self.sessionmaker() as session:
            inbound_id = data.get("inbound_id")
            if inbound_id is not None:
                _mark_done_on_commit(session, inbound_id)
            data["session"] = session
            token = current_session.set(session)
            try:
                result = await handler(event, data)
            except BaseException:
                await session.rollback()
                raise
            finally:
                current_session.reset(token)
            await session.commit()
            return result


def _mark_done_on_commit(session: AsyncSession, inbound_id: int) -> None:
    marked = False

    def before_commit(sync_session: Session) -> None:
        nonlocal marked
        if not marked:
            sync_session.execute(
                update(InboundUpdate)
                .where(InboundUpdate.id == inbound_id)
                .values(status=InboundStatus.done, processed_at=utcnow())
            )
            marked = True

    event.listen(session.sync_session, "before_commit", before_commit)


class UserMiddleware(BaseMiddleware):
    """Loads (or creates, unregistered) the :class:`models.User` behind the update."""

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        session: AsyncSession | None = data.get("session")
        if tg_user is not None and session is not None and not tg_user.is_bot:
            data["user"] = await user_service.get_or_create(
                session,
                telegram_id=tg_user.id,
                first_name=tg_user.first_name,
                last_name=tg_user.last_name,
                username=tg_user.username,
            )
        return await handler(event, data)
