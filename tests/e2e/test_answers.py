"""Answers survive Telegram's passing errors (bot/retry.py): a 502 or a 429 on
the answer to a message or to a button press still gets the person their
answer, exactly once; a 400 is not tried again."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from bot.sandbox.emulator import BotAPIEmulator
from models import User
from tests.conftest import BOT_TOKEN
from tests.e2e.conftest import make_settings
from tests.e2e.harness import RunningBot, start_bot

RESIDENT = 7000000040  # 王桂芝, registered in the demo district
SECRETARY = 7000000002  # 新站社区 secretary


@pytest.fixture
async def bot(emulator: BotAPIEmulator, db_url, demo_sessionmaker):  # type: ignore[no-untyped-def]
    running: RunningBot = await start_bot(
        emulator, make_settings(emulator, db_url, ANSWER_BACKOFF_BASE=0.05, ANSWER_BACKOFF_MAX=0.2), BOT_TOKEN)
    yield running
    await running.stop()


def _calls(emu: BotAPIEmulator, method: str, chat_id: int) -> list:  # type: ignore[type-arg]
    return [c for c in emu.calls if c.method == method and c.chat_id == chat_id]


@pytest.mark.parametrize("fault", [{"kind": "5xx", "status": 502}, {"kind": "5xx", "status": 503}])
async def test_a_server_error_on_the_answer_is_tried_again(bot, fault):
    p = bot.person(bot.emu.create_user(first_name="王桂芝", user_id=RESIDENT))
    bot.emu.faults.inject("sendMessage", chat_id=p.id, times=1, **fault)
    answer = await p.send("/help")
    assert len([m for m in answer if m.from_bot]) == 1  # answered, once
    tries = _calls(bot.emu, "sendMessage", p.id)
    assert [c.status for c in tries] == [fault["status"], 200]
    assert bot.app.bot.session.middleware._middlewares[-1].stats.retried >= 1  # type: ignore[attr-defined]


async def test_a_429_waits_exactly_what_telegram_said(bot):
    p = bot.person(bot.emu.create_user(first_name="王桂芝", user_id=RESIDENT))
    bot.emu.faults.inject("sendMessage", kind="429", retry_after=2, chat_id=p.id, times=1)
    answer = await p.send("/help")
    assert len([m for m in answer if m.from_bot]) == 1
    refused, sent = _calls(bot.emu, "sendMessage", p.id)
    assert (refused.status, sent.status) == (429, 200)
    assert 2.0 <= sent.time - refused.time < 3.5  # not before the announced time, and not much after


async def test_a_button_answer_survives_a_502(bot):
    p = bot.person(bot.emu.create_user(first_name="王桂芝", user_id=RESIDENT))
    await p.send("/start")
    menu = await p.send("🌐 语言")
    msg = next(m for m in menu if m.inline_buttons)
    bot.emu.faults.inject("answerCallbackQuery", kind="5xx", status=502, times=1)
    bot.emu.faults.inject("editMessageText", kind="5xx", status=502, times=1, chat_id=p.id)
    await p.press(msg.message_id, msg.inline_buttons[0][0][1])
    answers = [c for c in bot.emu.calls if c.method == "answerCallbackQuery"]
    assert [c.status for c in answers[-2:]] == [502, 200]
    assert bot.emu.callback_answers, "the press was answered"


async def test_a_bad_request_is_not_tried_again(bot):
    p = bot.person(bot.emu.create_user(first_name="王桂芝", user_id=RESIDENT))
    bot.emu.faults.inject("sendMessage", kind="400_not_found", chat_id=p.id, times=1)
    await p.send("/help")
    refused, apology = _calls(bot.emu, "sendMessage", p.id)
    assert refused.status == 400 and "/profile" in refused.params["text"]  # the help, not tried again
    assert apology.status == 200 and apology.params["text"] == "抱歉，这一步没能完成，请再试一次。"


async def test_the_broadcast_preview_survives_a_502(bot, demo_sessionmaker):
    async with demo_sessionmaker() as s:
        await s.execute(update(User).where(User.telegram_id == SECRETARY).values(locale="en"))
        await s.commit()
    staff = bot.person(bot.emu.create_user(first_name="李书记", user_id=SECRETARY, language_code="en"))
    await staff.from_menu("📢 Send a notice")
    await staff.send("Water is off tomorrow 9:00-12:00.")
    await staff.tap("Xinzhan Grid 1")
    await staff.tap("All of Xinzhan Grid 1")
    await staff.tap("Residents")
    # The last step's first answer meets two 502s in a row before it goes through.
    bot.emu.faults.inject("sendMessage", kind="5xx", status=502, times=2, chat_id=staff.id)
    answer = await staff.tap("Yes, ask them to confirm")
    preview, summary = answer[-2], answer[-1]
    assert preview.text == "Water is off tomorrow 9:00-12:00."
    assert "Recipients:" in summary.text and summary.inline_buttons
    assert [c.status for c in _calls(bot.emu, "sendMessage", staff.id)][-4:] == [502, 502, 200, 200]
