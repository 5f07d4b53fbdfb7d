"""Long polling against the emulator: getUpdates failures, and what one update costs."""

from __future__ import annotations

from aiogram import F
from aiogram.types import Message
from sqlalchemy import event, select

from models import InboundStatus, InboundUpdate
from tests.e2e.test_registration import register_resident_by_buttons


async def test_get_updates_failures_are_retried(running):
    emu = running.emu
    p = running.person(emu.create_user(first_name="周", language_code="zh-hans"))
    server_error = emu.faults.inject(method="getUpdates", kind="5xx", status=502)
    flood = emu.faults.inject(method="getUpdates", kind="429", retry_after=1)
    # The poll already waiting answers this one; the next two polls fail.
    first = await p.send("/start")
    assert "👋" in first[0].text
    second = await p.send("/start")
    assert "👋" in second[0].text
    assert server_error.remaining == 0 and flood.remaining == 0


async def test_a_menu_tap_costs_one_read_and_one_write(running):
    """A registered resident's Help: the user, their roles and their conversation
    state in one SELECT, the done-mark in one UPDATE, nothing else on those tables."""
    p = running.person(running.emu.create_user(first_name="吴", language_code="zh-hans"))
    await register_resident_by_buttons(p)
    if "跳过" in p.reply_keyboard():
        await p.send("跳过")  # the optional phone number
    await p.send("❓ 帮助")

    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]  # noqa: ARG001
        statements.append(" ".join(statement.split()))

    engine = running.app.engine
    if engine.dialect.name == "sqlite":
        # SQLite's own trace: it also sees the done-mark, which goes to sqlite3
        # directly (bot/middlewares.py).  The pool holds one connection.
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
        raw._conn.set_trace_callback(lambda sql: statements.append(" ".join(sql.split())))
        try:
            answer = await p.send("❓ 帮助")
        finally:
            raw._conn.set_trace_callback(None)
    else:
        event.listen(engine.sync_engine, "before_cursor_execute", record)
        try:
            answer = await p.send("❓ 帮助")
        finally:
            event.remove(engine.sync_engine, "before_cursor_execute", record)
    assert "网格" in answer[0].text
    touching = [s for s in statements if "fsm_records" in s or " users" in s or s.startswith("UPDATE inbound_updates")]
    assert len(touching) == 2, touching
    read, write = touching
    assert read.startswith("SELECT") and "fsm_records" in read and "role_grants" in read
    assert write.startswith("UPDATE inbound_updates")


async def test_a_failing_handler_is_recorded_with_its_own_error(running):
    """After a handler fails its session is rolled back and closed; aiogram then
    raises an error event, whose middlewares must not trip over the expired user
    and replace the handler's own error."""

    async def broken(message: Message) -> None:  # noqa: ARG001
        raise RuntimeError("handler bug")

    running.app.dp.message.register(broken, F.text == "坏了")
    p = running.person(running.emu.create_user(first_name="郑", language_code="zh-hans"))
    await p.send("/start")
    action = await running.emu.send_text(p.user, "坏了")
    await running.settle(action)
    async with running.app.sessionmaker() as s:
        row = await s.scalar(select(InboundUpdate).where(InboundUpdate.update_id == action.update_id))
    assert row.status == InboundStatus.failed
    assert row.last_error == "RuntimeError: handler bug"
