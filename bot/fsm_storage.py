"""aiogram FSM storage in the database, for deployments without Redis.

aiogram's MemoryStorage forgets every conversation on restart; this keeps
them in the ``fsm_records`` table.  Inside a handler the change joins the
update's own transaction, so state, effects and the update's done-mark are
committed together.  With ``REDIS_URL`` set the bot uses
aiogram's RedisStorage instead (see :func:`create_storage`).

Either way, the first change an update makes to a conversation keeps what
it was (``bot.answers.remember_state``): if the update's answer then fails for
good, a step that changed nothing but the conversation is put back, and the
person can simply repeat it.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from aiogram.fsm.state import State
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder, StateType, StorageKey
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.answers import remember_state, wants_state_kept
from bot.middlewares import current_session
from bot.services.users import StoredConversation
from models import FSMRecord, utcnow
from models.direct import DirectStatement

_PREFETCH = "gridbot.fsm_prefetch"
# Every read and write is one Core statement built once (no ORM objects, so
# nothing stale in a session's identity map): this runs on most updates, so
# on SQLite it goes straight to sqlite3 (models/direct.py).
_fsm = FSMRecord.__table__
_KEY = _fsm.c.key == bindparam("row_key")
_STATE_OF = DirectStatement(select(_fsm.c.state).where(_KEY))
_DATA_OF = DirectStatement(select(_fsm.c.data).where(_KEY))
_CLEAR_STATE = DirectStatement(update(_fsm).where(_KEY).values(state=None, updated_at=bindparam("now")))
_CLEAR_DATA = DirectStatement(update(_fsm).where(_KEY).values(data="{}", updated_at=bindparam("now")))


def _upsert(insert: Any, column: str) -> DirectStatement:
    stmt = insert(_fsm).values(
        key=bindparam("row_key"),
        state=bindparam("new_state") if column == "state" else None,
        data=bindparam("new_data") if column == "data" else "{}",
        updated_at=bindparam("now"),
    )
    return DirectStatement(stmt.on_conflict_do_update(
        index_elements=[_fsm.c.key],
        set_={column: getattr(stmt.excluded, column), "updated_at": stmt.excluded.updated_at},
    ))


_SET_STATE = {"sqlite": _upsert(sqlite_insert, "state"), "postgresql": _upsert(pg_insert, "state")}
_SET_DATA = {"sqlite": _upsert(sqlite_insert, "data"), "postgresql": _upsert(pg_insert, "data")}


class KeepsStateBefore(BaseStorage):
    """Keeps a conversation's state as it was before the update's first change to it."""

    async def _keep_before(self, key: StorageKey) -> None:
        if wants_state_kept(key):
            remember_state(key, await self.get_state(key), await self.get_data(key))


class SQLStorage(KeepsStateBefore):
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self.sessionmaker = sessionmaker
        self.key_builder = DefaultKeyBuilder(with_destiny=True, with_bot_id=True)

    def _key(self, key: StorageKey) -> str:
        return self.key_builder.build(key)

    def state_key(self, key: StorageKey) -> str:
        """The row key of a conversation's state, for reading it in advance."""
        return self._key(key)

    @staticmethod
    def prefetched(session: AsyncSession, state_key: str, stored: StoredConversation) -> None:
        """Record a conversation read by another query of this session (the user
        lookup reads it in the same statement): ``get_state`` and ``get_data``
        answer from it, and clearing a conversation that has no row costs no
        statement (a stranger's first message clears one)."""
        session.sync_session.info[_PREFETCH] = (state_key, stored)

    @staticmethod
    def _known(session: AsyncSession, row_key: str) -> StoredConversation | None:
        """The prefetched conversation under ``row_key``, if that is the one read."""
        prefetched = session.sync_session.info.get(_PREFETCH)
        return prefetched[1] if prefetched is not None and prefetched[0] == row_key else None

    @staticmethod
    async def _write(session: AsyncSession, stmt: DirectStatement, params: dict[str, Any]) -> None:
        # A real change forgets the prefetched row: a rollback would make any copy of it stale.
        session.sync_session.info.pop(_PREFETCH, None)
        await stmt.run(session, params)

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
            row_key = self._key(key)
            known = self._known(session, row_key)
            if value is None and known is not None and known.data is None:
                return  # no row to clear: nothing changes, nothing to keep
            await self._keep_before(key)
            params = {"row_key": row_key, "new_state": value, "now": utcnow()}
            # Clearing never creates a row; setting creates or updates it.
            await self._write(session, _CLEAR_STATE if value is None else _SET_STATE[session.bind.dialect.name],
                              params)
            if own:
                await session.commit()

    async def get_state(self, key: StorageKey) -> str | None:
        async with self._session() as (session, _):
            row_key = self._key(key)
            if (known := self._known(session, row_key)) is not None:
                return known.state
            return (await _STATE_OF.run(session, {"row_key": row_key})).scalar()

    async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
        data = dict(data)
        async with self._session() as (session, own):
            row_key = self._key(key)
            known = self._known(session, row_key)
            if not data and known is not None and known.data is None:
                return  # no row to clear: nothing changes, nothing to keep
            await self._keep_before(key)
            params = {"row_key": row_key, "new_data": json.dumps(data, ensure_ascii=False), "now": utcnow()}
            await self._write(session, _SET_DATA[session.bind.dialect.name] if data else _CLEAR_DATA, params)
            if own:
                await session.commit()

    async def get_data(self, key: StorageKey) -> dict[str, Any]:
        async with self._session() as (session, _):
            row_key = self._key(key)
            known = self._known(session, row_key)
            payload = known.data if known is not None else (await _DATA_OF.run(session, {"row_key": row_key})).scalar()
            return json.loads(payload) if payload else {}

    async def close(self) -> None:  # the engine is owned by the application
        return None


def create_storage(redis_url: str | None, sessionmaker: async_sessionmaker[AsyncSession]) -> BaseStorage:
    if redis_url:
        # Only with REDIS_URL: it needs the redis client.
        from aiogram.fsm.storage.redis import RedisStorage

        class KeepingRedisStorage(RedisStorage, KeepsStateBefore):
            async def set_state(self, key: StorageKey, state: StateType = None) -> None:
                await self._keep_before(key)
                await super().set_state(key, state)

            async def set_data(self, key: StorageKey, data: Mapping[str, Any]) -> None:
                await self._keep_before(key)
                await super().set_data(key, data)

        return KeepingRedisStorage.from_url(redis_url, key_builder=DefaultKeyBuilder(with_destiny=True,
                                                                                     with_bot_id=True))
    return SQLStorage(sessionmaker)
