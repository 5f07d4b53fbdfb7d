"""The conversation state kept in the database (bot/fsm_storage.py)."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from sqlalchemy import event, select

from bot.fsm_storage import SQLStorage
from bot.middlewares import DbSessionMiddleware
from bot.services.users import NO_CONVERSATION, StoredConversation
from models import FSMRecord


class Form(StatesGroup):
    name = State()


KEY = StorageKey(bot_id=1, chat_id=42, user_id=42)
OTHER = StorageKey(bot_id=1, chat_id=43, user_id=43)


async def test_state_and_data_outside_a_handler(sessionmaker):
    storage = SQLStorage(sessionmaker)
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}
    await storage.set_state(KEY, Form.name)
    await storage.set_data(KEY, {"name": "张三", "n": 2})
    assert await storage.get_state(KEY) == "Form:name"
    assert await storage.get_data(KEY) == {"name": "张三", "n": 2}
    assert await storage.get_state(OTHER) is None
    await storage.set_state(KEY, None)
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {"name": "张三", "n": 2}
    await storage.set_data(KEY, {})
    assert await storage.get_data(KEY) == {}
    # Clearing what was never set creates nothing.
    await storage.set_state(OTHER, None)
    await storage.set_data(OTHER, {})
    async with sessionmaker() as s:
        assert (await s.scalars(select(FSMRecord.key))).all() == [storage.state_key(KEY)]


async def test_inside_a_handler_the_state_joins_its_transaction(sessionmaker):
    storage = SQLStorage(sessionmaker)

    async def sets_state(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        await storage.set_state(KEY, Form.name)
        await storage.set_data(KEY, {"step": 1})
        assert await storage.get_state(KEY) == "Form:name"  # read back inside the transaction
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        await DbSessionMiddleware(sessionmaker)(sets_state, object(), {})
    assert await storage.get_state(KEY) is None
    assert await storage.get_data(KEY) == {}

    async def sets_and_succeeds(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        await storage.set_state(KEY, "Form:name")
        await storage.set_data(KEY, {"step": 2})

    await DbSessionMiddleware(sessionmaker)(sets_and_succeeds, object(), {})
    assert await storage.get_state(KEY) == "Form:name"
    assert await storage.get_data(KEY) == {"step": 2}


async def test_a_prefetched_state_answers_until_the_state_changes(sessionmaker):
    storage = SQLStorage(sessionmaker)
    await storage.set_state(KEY, "Form:name")

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        session = data["session"]
        # The user lookup read it in its own statement (bot/services/users.py).
        storage.prefetched(session, storage.state_key(KEY), StoredConversation("Form:name", "{}"))
        assert await storage.get_state(KEY) == "Form:name"
        assert await storage.get_state(OTHER) is None  # another key is read from the table
        await storage.set_state(KEY, None)
        assert await storage.get_state(KEY) is None  # the prefetched value is gone with the change

    await DbSessionMiddleware(sessionmaker)(handler, object(), {})
    assert await storage.get_state(KEY) is None


def _count_statements(session: Any) -> list[str]:
    seen: list[str] = []
    event.listen(session.bind.sync_engine, "before_cursor_execute",
                 lambda _c, _cur, statement, *_: seen.append(statement))
    return seen


async def test_clearing_a_conversation_read_as_absent_costs_no_statement(sessionmaker):
    """A stranger's first message clears a conversation that was never stored: the user
    lookup read that there is no row, so neither the clear nor its undo record asks again."""
    storage = SQLStorage(sessionmaker)
    context = FSMContext(storage, KEY)

    async def clears(event_: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        session = data["session"]
        storage.prefetched(session, storage.state_key(KEY), NO_CONVERSATION)
        seen = _count_statements(session)
        await context.clear()
        assert await context.get_state() is None and await context.get_data() == {}
        assert seen == []

    await DbSessionMiddleware(sessionmaker)(clears, object(), {})
    async with sessionmaker() as s:
        assert (await s.scalars(select(FSMRecord.key))).all() == []


async def test_prefetched_data_answers_and_a_write_forgets_it(sessionmaker):
    storage = SQLStorage(sessionmaker)
    await storage.set_data(KEY, {"step": 1})

    async def handler(event_: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        session = data["session"]
        storage.prefetched(session, storage.state_key(KEY), StoredConversation(None, '{"step": 1}'))
        seen = _count_statements(session)
        assert await storage.get_data(KEY) == {"step": 1}
        assert seen == []
        await storage.set_data(KEY, {"step": 2})  # a real write: the prefetched copy is gone
        assert await storage.get_data(KEY) == {"step": 2}
        await session.rollback()  # ...so nothing stale is answered after a rollback
        assert await storage.get_data(KEY) == {"step": 1}
        # A row that exists is cleared with statements, even with an empty state.
        storage.prefetched(session, storage.state_key(KEY), StoredConversation(None, '{"step": 1}'))
        await storage.set_data(KEY, {})
        assert await storage.get_data(KEY) == {}

    await DbSessionMiddleware(sessionmaker)(handler, object(), {})
    assert await storage.get_data(KEY) == {}
