"""Conversation awareness (issue 20): after her worker wrote to her, what a resident types,
photographs or says at the menu may be a reply.  She chooses in one tap whether it goes to
that worker or becomes a new request; nothing becomes a case without her knowing."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Case, CaseAttachment, CaseEvent, CaseEventType, CaseStatus
from tests.e2e.cases.helpers import (
    NUMBER_RE,
    RESIDENT,
    WORKER,
    accept,
    case_by_number,
    file_text,
    people,
    person,
    zh,
)


async def _accepted_case_with_a_worker_message(bot, resident, worker) -> str:  # type: ignore[no-untyped-def]
    number = await file_text(resident, "楼道灯坏了，晚上很黑")
    card = await accept(worker, number)
    mark = resident.last_id
    await worker.tap_in(card, zh("💬 Message the resident"))
    await worker.send("请准备好身份证复印件，我明天上门")
    await worker.send(zh("✅ Done"))
    await resident.received("请准备好身份证复印件", after=mark)
    return number


async def _sent_cases(bot) -> int:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(Case).where(Case.status != CaseStatus.draft)))


async def test_a_reply_typed_at_the_menu_goes_to_the_worker_in_one_tap(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    number = await _accepted_case_with_a_worker_message(bot, resident, worker)

    asked = await resident.send("身份证复印件我已经准备好了")
    question = asked[-1]
    assert question.text == zh("Is this for your grid worker about case {number}, or a new request?").format(
        number=number)
    labels = [t for row in question.inline_buttons for t, _d in row]
    assert labels == [zh("💬 To worker · {number}").format(number=number), zh("🆕 A new request"),
                      zh("❌ Cancel")]
    assert all(len(label) <= 28 for label in labels)
    # A photo and a voice message before she chooses join the same words; the question comes again.
    again = await resident.send_photo(b"\xff\xd8 id copy")
    assert again[-1].text == question.text
    await resident.send_voice()
    assert await _sent_cases(bot) == 1  # nothing became a case

    mark = worker.last_id
    done = await resident.tap_in(resident.last, zh("💬 To worker · {number}").format(number=number))
    assert done[-1].text == zh("✓ Sent to your grid worker (case {number}).").format(number=number)
    assert done[-1].inline_buttons == []  # the question left the screen
    await worker.received("身份证复印件我已经准备好了", after=mark)
    await bot.emu.wait_for(lambda: {m.kind for m in worker.messages() if m.message_id > mark} >= {"photo", "voice"})
    case = await case_by_number(bot, number)
    async with bot.app.sessionmaker() as s:
        messages = list(await s.scalars(select(CaseEvent.note).where(CaseEvent.case_id == case.id,
                                                                     CaseEvent.type == CaseEventType.message,
                                                                     CaseEvent.actor_id != case.owner_id)))
        files = int(await s.scalar(select(func.count()).select_from(CaseAttachment)
                                   .where(CaseAttachment.case_id == case.id, CaseAttachment.phase == "message")))
        drafts = int(await s.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.draft)))
    assert messages[0] == "身份证复印件我已经准备好了" and files == 2 and drafts == 0
    assert await _sent_cases(bot) == 1
    # The buttons of an answered question do nothing more.
    await resident.press(question.message_id, question.inline_buttons[0][0][1])
    assert resident.last_callback_answer()["show_alert"]
    assert await _sent_cases(bot) == 1


async def test_she_can_make_it_a_new_request_or_cancel(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    await _accepted_case_with_a_worker_message(bot, resident, worker)

    # ❌ Cancel: nothing was sent, nothing is kept.
    await resident.send("算了")
    cancelled = await resident.tap_in(resident.last, zh("❌ Cancel"))
    assert cancelled[-1].text == zh("Cancelled. Nothing was sent.")
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Case).where(Case.status == CaseStatus.draft)) == 0

    # 🆕 A new request: the usual intake, with ✅ Send; only then a second case.
    await resident.send_photo(b"\xff\xd8 broken bench", caption="小区长椅坏了")
    chosen = await resident.tap_in(resident.last, zh("🆕 A new request"))
    assert zh("✅ Send") in resident.reply_keyboard()
    assert chosen[0].text == zh("🆕 A new request")
    assert await _sent_cases(bot) == 1
    sent = await resident.send(zh("✅ Send"))
    second = NUMBER_RE.search(sent[-1].text).group(0)
    assert await _sent_cases(bot) == 2
    case = await case_by_number(bot, second)
    assert case.description == "小区长椅坏了"


async def test_without_a_conversation_free_text_is_a_new_request_as_before(bot):
    resident = person(bot, RESIDENT)
    await resident.send("/start")
    first = await resident.send("楼下垃圾三天没人清运了")
    assert first[-1].text.startswith("📥")
    assert zh("✅ Send") in resident.reply_keyboard()
