"""Answers survive Telegram's passing errors (bot/retry.py): a 502 or a 429 on
the answer to a message or to a button press still gets the person their
answer, exactly once; a 400 is not tried again.  An answer that fails for good
(bot/answers.py) is apologised for in the person's language, logged with the
update id, and a step that only moved the conversation can be repeated.
Answers to one chat are paced to Telegram's one a second.  Uploads (a report's
files, the privacy export) are recorded with their bytes and go out in order
with the chat's other answers, through the same retries."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.sandbox.emulator import BotAPIEmulator, SentMessage
from models import OutgoingFile, OutgoingRequest, User, utcnow
from tests.conftest import BOT_TOKEN
from tests.e2e.broadcast.helpers import address_notice
from tests.e2e.conftest import make_settings
from tests.e2e.harness import Person, RunningBot, start_bot

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


async def _language_menu(bot: RunningBot) -> tuple[Person, SentMessage]:
    """The resident, after /start, with the language menu open: its message with the buttons."""
    p = bot.person(bot.emu.create_user(first_name="王桂芝", user_id=RESIDENT))
    await p.send("/start")
    menu = await p.send("🌐 语言")
    return p, next(m for m in menu if m.inline_buttons)


async def _notice_up_to_confirmation(bot: RunningBot, demo_sessionmaker) -> Person:  # type: ignore[no-untyped-def]
    """The secretary (in English) with a notice to the residents of Xinzhan Grid 1 written
    and addressed, at its last step: "Yes, ask them to confirm"."""
    staff = await _secretary_in_english(bot, demo_sessionmaker)
    await address_notice(staff, "Water is off tomorrow 9:00-12:00.", "All of Xinzhan Grid 1")
    return staff


async def _secretary_in_english(bot: RunningBot, sessionmaker) -> Person:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        await s.execute(update(User).where(User.telegram_id == SECRETARY).values(locale="en"))
        await s.commit()
    return bot.person(bot.emu.create_user(first_name="李书记", user_id=SECRETARY, language_code="en"))


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
    p, msg = await _language_menu(bot)
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
    assert refused.status == 400 and "👤" in refused.params["text"]  # the help, not tried again
    assert apology.status == 200 and apology.params["text"] == "抱歉，这一步没能完成，请再试一次。"


async def test_the_broadcast_preview_survives_a_502(bot, demo_sessionmaker):
    staff = await _notice_up_to_confirmation(bot, demo_sessionmaker)
    # The last step's first answer meets two 502s in a row before it goes through.
    bot.emu.faults.inject("sendMessage", kind="5xx", status=502, times=2, chat_id=staff.id)
    answer = await staff.tap("Yes, ask them to confirm")
    preview, summary = answer[-2], answer[-1]
    assert preview.text == "Water is off tomorrow 9:00-12:00."
    assert "Recipients:" in summary.text and summary.inline_buttons
    assert [c.status for c in _calls(bot.emu, "sendMessage", staff.id)][-4:] == [502, 502, 200, 200]


# -- uploads ----------------------------------------------------------------------------------
def _upload(call) -> dict:  # type: ignore[no-untyped-def,type-arg]
    """The file a recorded sendPhoto/sendDocument call carried (its name, size)."""
    field = call.params["photo" if call.method == "sendPhoto" else "document"]
    assert field.startswith("attach://"), field  # an upload, not a file_id
    return call.params[field.removeprefix("attach://")]


async def _recorded_files(bot) -> list[tuple[str | None, bytes]]:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        return [(r.filename, r.data) for r in (await s.execute(select(OutgoingFile.filename, OutgoingFile.data)))]


async def test_an_upload_is_recorded_and_survives_a_502_with_the_same_bytes(bot):
    p = bot.person(bot.emu.create_user(first_name="王桂芝", user_id=RESIDENT))
    bot.emu.faults.inject("sendDocument", kind="5xx", status=502, times=1, chat_id=p.id)
    # The second try is held by Telegram a moment: the upload is on record meanwhile.
    held = bot.emu.faults.inject("sendDocument", kind="delay", delay=3, times=1, chat_id=p.id)
    asked = asyncio.create_task(p.send("/mydata"))
    await bot.emu.wait_for(lambda: held.hits == 1, timeout=15)
    [(filename, data)] = await _recorded_files(bot)
    answer = await asked
    [document] = [m for m in answer if m.kind == "document"]
    assert document.file_name == filename == "mydata.json" and document.caption
    assert bot.emu.file_bytes(document.file_id) == data  # the recorded bytes, sent
    assert json.loads(data)["profile"]["telegram_id"] == RESIDENT
    refused, sent = _calls(bot.emu, "sendDocument", p.id)
    assert (refused.status, sent.status) == (502, 200)
    assert _upload(refused) == _upload(sent)  # the same file, tried again
    await bot.app.answers.write_confirmed()
    assert await _recorded_files(bot) == []  # its bytes gone with the confirmed request


async def test_a_reports_files_keep_their_order_through_a_502(bot, demo_sessionmaker):
    """The summary, the chart, the workbook and the CSV, in that order and each once,
    the chart's first try refused."""
    staff = await _secretary_in_english(bot, demo_sessionmaker)
    await staff.send("/report")
    await staff.tap("Xinzhan Community (community)")
    bot.emu.faults.inject("sendPhoto", kind="5xx", status=502, times=1, chat_id=staff.id)
    answer = await staff.tap("This week")
    kinds = [(m.kind, m.file_name) for m in answer if m.kind != "text" or "Received" in (m.text or "")]
    assert [k for k, _ in kinds] == ["text", "photo", "document", "document"], kinds
    assert kinds[2][1].endswith(".xlsx") and kinds[3][1].endswith("-cases.csv")
    tries = [(c.method, c.status) for c in bot.emu.calls
             if c.chat_id == staff.id and c.method in ("sendMessage", "sendPhoto", "sendDocument")][-5:]
    assert tries == [("sendMessage", 200), ("sendPhoto", 502), ("sendPhoto", 200),
                     ("sendDocument", 200), ("sendDocument", 200)]


# -- failed for good: never a silent end ------------------------------------------------
APOLOGY = {"zh-Hans": "抱歉，这一步没能完成，请再试一次。", "en": "Sorry, I could not complete that. Please try again."}
TRIES = 4  # ANSWER_MAX_ATTEMPTS's default


async def test_an_answer_that_fails_for_good_is_apologised_for(bot, caplog):
    p = bot.person(bot.emu.create_user(first_name="王桂芝", user_id=RESIDENT))
    bot.emu.faults.inject("sendMessage", kind="5xx", status=502, times=TRIES, chat_id=p.id)
    with caplog.at_level("WARNING", logger="bot.answers"):
        answer = await p.send("/help")
    assert [m.text for m in answer] == [APOLOGY["zh-Hans"]]
    assert [c.status for c in _calls(bot.emu, "sendMessage", p.id)] == [502] * TRIES + [200]
    failed = [r.getMessage() for r in caplog.records if "failed for good" in r.getMessage()]
    update_id = bot.app.pipeline.last_stored_update_id  # the /help's
    assert len(failed) == 1 and f"update {update_id}:" in failed[0], failed
    assert BOT_TOKEN not in caplog.text
    assert "👤" in (await p.send("/help"))[-1].text  # and the next try works


async def test_an_upload_that_fails_for_good_is_apologised_for(bot):
    p = bot.person(bot.emu.create_user(first_name="王桂芝", user_id=RESIDENT))
    bot.emu.faults.inject("sendDocument", kind="5xx", status=502, times=TRIES, chat_id=p.id)
    answer = await p.send("/mydata")
    assert [m.text for m in answer] == [APOLOGY["zh-Hans"]]
    assert [c.status for c in _calls(bot.emu, "sendDocument", p.id)] == [502] * TRIES
    document = (await p.send("/mydata"))[-1]  # and the next try works
    assert document.kind == "document" and document.file_name == "mydata.json"


async def test_a_429_longer_than_worth_waiting_is_apologised_for(emulator, db_url, demo_sessionmaker):
    running = await start_bot(emulator, make_settings(emulator, db_url, ANSWER_MAX_WAIT=1), BOT_TOKEN)
    try:
        p = running.person(emulator.create_user(first_name="王桂芝", user_id=RESIDENT))
        emulator.faults.inject("sendMessage", kind="429", retry_after=30, chat_id=p.id, times=1)
        answer = await p.send("/help")
        assert [m.text for m in answer] == [APOLOGY["zh-Hans"]]
        assert [c.status for c in _calls(emulator, "sendMessage", p.id)] == [429, 200]
    finally:
        await running.stop()


async def test_a_429_on_a_button_answer_waits_it_out(bot):
    p, msg = await _language_menu(bot)
    bot.emu.faults.inject("editMessageText", kind="429", retry_after=1, times=1, chat_id=p.id)
    answer = await p.press(msg.message_id, msg.inline_buttons[0][0][1])
    edits = _calls(bot.emu, "editMessageText", p.id)
    assert [c.status for c in edits[-2:]] == [429, 200]
    assert edits[-1].time - edits[-2].time >= 1.0
    assert answer and APOLOGY["zh-Hans"] not in [m.text for m in answer]


async def test_a_button_answer_that_fails_for_good_is_apologised_for(bot):
    p, msg = await _language_menu(bot)
    bot.emu.faults.inject("editMessageText", kind="5xx", status=502, times=TRIES, chat_id=p.id)
    answer = await p.press(msg.message_id, msg.inline_buttons[0][0][1])
    assert [c.status for c in _calls(bot.emu, "editMessageText", p.id)][-TRIES:] == [502] * TRIES
    assert answer[-1].text in APOLOGY.values()


async def test_the_broadcast_preview_step_can_be_repeated_after_a_502_for_good(bot, demo_sessionmaker):
    staff = await _notice_up_to_confirmation(bot, demo_sessionmaker)
    bot.emu.faults.inject("sendMessage", kind="5xx", status=502, times=TRIES, chat_id=staff.id)
    answer = await staff.tap("Yes, ask them to confirm")
    assert answer[-1].text == APOLOGY["en"]
    assert not any(m.text == "Water is off tomorrow 9:00-12:00." for m in answer)  # no preview got through
    # The step is where it was, its buttons back: the same press now shows the preview.
    answer = await staff.tap("Yes, ask them to confirm")
    preview, summary = answer[-2], answer[-1]
    assert preview.text == "Water is off tomorrow 9:00-12:00."
    assert "Recipients:" in summary.text and summary.inline_buttons


async def test_three_answers_to_one_chat_keep_telegrams_pace(emulator, db_url, demo_sessionmaker):
    """Telegram's one message a second to a chat, enforced by the emulator: three
    messages within a second get their three answers, in order, and no 429."""
    emulator.set_rate_limits(global_per_second=None, per_chat_per_second=1, per_group_per_minute=20)
    running = await start_bot(emulator, make_settings(emulator, db_url, ANSWER_CHAT_RATE=1, ANSWER_GROUP_RATE=20),
                              BOT_TOKEN)
    try:
        p = running.person(emulator.create_user(first_name="王桂芝", user_id=RESIDENT))
        sent = [await emulator.send_text(p.user, text) for text in ("/help", "/nope", "/cancel")]
        await running.settle(sent[-1], timeout=20)
        answers = _calls(emulator, "sendMessage", p.id)
        assert [c.status for c in answers] == [200, 200, 200]
        texts = [c.params["text"] for c in answers]
        assert "👤" in texts[0] and texts[1] != texts[0], texts  # the help, then the answer to an unknown command
        assert answers[2].params["text"] == "您需要办什么？请在下面选择。"  # the menu, after /cancel
        assert emulator.rate_limit_hits == []
        assert running.app.bot.session.middleware._middlewares[-1].stats.paced == 2  # type: ignore[attr-defined]
    finally:
        await running.stop()


async def test_a_dead_processs_recorded_answer_goes_before_the_chats_next_one(emulator, db_url, demo_sessionmaker):
    """Another process recorded an answer to this chat and died before sending it (its
    lease has run out): the chat's next update does not overtake it.  The recorded
    answer is sent first, by the process that handles the next update, then its own."""
    if not db_url.startswith("postgresql"):
        pytest.skip("several processes share a database on PostgreSQL only (SQLite runs one)")
    running = await start_bot(emulator, make_settings(emulator, db_url), BOT_TOKEN)
    try:
        p = running.person(emulator.create_user(first_name="王桂芝", user_id=RESIDENT))
        async with demo_sessionmaker() as s:
            s.add(OutgoingRequest(inbound_id=10**12, seq=0, chat_id=p.id, method="SendMessage",
                                  body=json.dumps({"chat_id": p.id, "text": "recorded before the crash"}),
                                  owner="dead-process", lease_until=utcnow() - timedelta(seconds=1)))
            await s.commit()
        await running.settle(await emulator.send_text(p.user, "/help"), timeout=20)
        texts = [m.text or "" for m in p.messages()]
        assert len(texts) == 2 and texts[0] == "recorded before the crash" and "👤" in texts[1], texts
        await running.app.answers.write_confirmed()  # type: ignore[union-attr] # else the next commit's
        async with demo_sessionmaker() as s:
            assert await s.scalar(select(func.count()).select_from(OutgoingRequest)) == 0
    finally:
        await running.stop()
