"""aiogram FSM storage in the database, for deployments without Redis.

aiogram's MemoryStorage forgets every conversation on restart; this keeps
them in the ``fsm_records`` table.  Inside a handler the change joins the
update's own transaction, so state, effects and the update's done-mark are
committed together.  With ``REDIS_URL`` set the bot uses
aiogram's RedisStorage instead (see :func:`create_storage`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.middlewares import current_session
from models import FSMRecord

_PREFETCH = "gridbot.fsm_prefetch"
_STATE_OF = select(FSMRecord.__table__.c.state).where(FSMRecord.__table__.c.key == bindparam("key"))


class SQLStorage(BaseStorage):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.key_builder = DefaultKeyBuilder(with_destiny=True, with_bot_id=True)

    def _key(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    def state_key(self, key: StorageKey) -> str:
        """The row key of a conversation's state, for reading it in advance."""
        return self._key(key)

    @staticmethod
    def prefetched(session: AsyncSession, state_key: str, state: str | None) -> None:
        """Record a state read by another query of this session (the user
        lookup reads it in the same statement); ``get_state`` answers from it."""
        session.sync_session.info[_PREFETCH] = (state_key, state)

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[tuple[AsyncSession, bool]]:
        """The handler's session when inside one (its commit carries the change),
        else a short one of our own that we commit."""
        shared = current_session.get()
        if shared is not None:
            yield shared, False
            return
        async with self.sessionmaker() as own:
            yield own, True

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        value = state.state if isinstance(state, State) else state
        async with self._session() as (session, own):
            session.sync_session.info.pop(_PREFETCH, None)
            record = await session.get(FSMRecord, self._key(key))
            if record is None:
                if value is None:
                    return
                session.add(FSMRecord(key=self._key(key), state=value, data="{}"))
            else:
                record.state = value
            if own:
                await session.commit()

    async def get_state(self, key: StorageKey) -> str | None:
        # Read on every update: a Core statement built once, not an ORM load.
        async with self._session() as (session, _):
            row_key = self._key(key)
            prefetched = session.sync_session.info.get(_PREFETCH)
            if prefetched is not None and prefetched[0] == row_key:
                return prefetched[1]
            return await session.scalar(_STATE_OF, {"key": row_key})

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        payload = json.dumps(dict(data), ensure_ascii=False)
        async with self._session() as (session, own):
            record = await session.get(FSMRecord, self._key(key))
            if record is None:
                session.add(FSMRecord(key=self._key(key), state=None, data=payload))
            else:
                record.data = payload
            if own:
                await session.commit()

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as (session, _):
            record = await session.get(FSMRecord, self._key(key))
            return json.loads(record.data) if record else {}

    async def close(self) -> None:  # the engine is owned by the application
        return None


def create_storage(redis_url: str | None, sessionmaker: async_sessionmaker[AsyncSession]) -> BaseStorage:
    if redis_url:
        from aiogram.fsm.storage.redis import RedisStorage

        return RedisStorage.from_url(redis_url, key_builder=DefaultKeyBuilder(with_destiny=True, with_bot_id=True))
    return SQLStorage(sessionmaker)
