"""The case loop end to end: the real bot, its delivery engine and the Bot API
emulator, with the demo district's personas.

A proxy errand from intake (text, photo, voice) to the resident's sign-off and
rating; "not solved" and rework; the accept race; forged buttons.
"""

from __future__ import annotations

from sqlalchemy import select

from models import (
    AttachmentKind,
    CaseAttachment,
    CaseEvent,
    CaseEventType,
    CaseHandover,
    CaseRating,
    CaseStatus,
    CloseReason,
)
from tests.e2e.cases.helpers import (
    NEIGHBOUR,
    NUMBER_RE,
    OTHER_WORKER,
    RESIDENT,
    WORKER,
    WORKER2,
    case_by_number,
    file_text,
    people,
    person,
    zh,
)


async def test_proxy_errand_full_loop(bot):
    resident, worker, colleague = people(bot, RESIDENT, WORKER, WORKER2)
    await resident.send("/start")
    assert zh("🙋 Ask for help") in resident.reply_keyboard()

    # Intake: pick the item, then text, a photo and a voice note, in any order, then Send.
    await resident.send(zh("🙋 Ask for help"))
    await resident.tap("居住证明")
    await resident.tap(zh("Within 3 days"))
    await resident.tap(zh("Collect my documents and hand them in for me"))
    assert zh("✅ Send") in resident.reply_keyboard()
    await resident.send_photo(b"\xff\xd8 household register")
    answer = await resident.send("孩子上学要居住证明，我腿脚不方便，请帮我去开。")
    assert "📥" in answer[-1].text
    await resident.send_voice()
    done = await resident.send(zh("✅ Send"))
    sent = next(m for m in done if NUMBER_RE.search(m.text or ""))
    number = NUMBER_RE.search(sent.text).group(0)
    assert zh("🙋 Ask for help") in resident.reply_keyboard()  # back at the menu

    # Both workers of the grid are told; the first to accept owns it, the second is told it is taken.
    note = await worker.received(number)
    note2 = await colleague.received(number)
    await worker.tap_in(note, zh("✅ Accept"))
    card = await worker.received(number, after=note.message_id)
    assert "13904353001" in card.text  # the owner sees the resident's phone
    await colleague.tap_in(note2, zh("✅ Accept"))
    assert colleague.last_callback_answer()["show_alert"]
    assert number in colleague.last_callback_answer()["text"]

    # The resident hears it was accepted, and writes to the worker through the bot.
    accepted = await resident.received(number, after=sent.message_id)
    mark = worker.last_id
    await resident.tap_in(accepted, zh("💬 Write to your worker"))
    await resident.send("我下午三点在家")
    relayed = await worker.received("我下午三点在家", after=mark)
    assert "王桂芝" in relayed.text
    await resident.send(zh("✅ Done"))

    # The worker answers with a photo; the resident gets it, without the worker's account.
    mark = resident.last_id
    await worker.tap_in(relayed, zh("↩️ Reply"))
    await worker.send_photo(b"\xff\xd8 form", caption="表格已填好")
    got = await resident.received("表格已填好", after=mark, kind="photo")
    assert "张伟" not in got.caption and "13904352002" not in got.caption
    await worker.send(zh("✅ Done"))

    # A handover, then done with a note and a photo.
    case = await case_by_number(bot, number)
    await worker.press(card.message_id, f"cs:ho:{case.id}:0")
    await worker.tap(zh("📥 I received it from the resident"))
    await worker.send("户口本复印件")
    await worker.send(zh("Skip"))
    handover_note = await resident.received("户口本复印件", after=mark)
    assert number in handover_note.text
    await worker.press(card.message_id, f"cs:res:{case.id}:0")
    await worker.send("居住证明已开好，原件已送到您家")
    await worker.send_photo(b"\xff\xd8 certificate")
    ask = await resident.received("居住证明已开好", after=mark, kind="photo")
    assert "户口本复印件" in ask.caption

    # The resident signs off and rates.
    await resident.tap_in(ask, zh("✅ Solved, I sign off"))
    await resident.tap("⭐⭐⭐⭐⭐ 5")
    await resident.send("非常感谢张师傅")
    await worker.received("非常感谢张师傅")

    async with bot.app.sessionmaker() as s:
        case = await case_by_number(bot, number)
        assert case.status == CaseStatus.closed and case.close_reason == CloseReason.confirmed
        types = list(await s.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case.id)
                                     .order_by(CaseEvent.id)))
        assert types[0] == CaseEventType.submitted and types[1] == CaseEventType.accepted
        assert CaseEventType.message in types and CaseEventType.handover in types
        assert types[-3:] == [CaseEventType.resolved, CaseEventType.confirmed, CaseEventType.rated]
        files = list(await s.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)
                                     .order_by(CaseAttachment.id)))
        assert [f.kind for f in files][:2] == [AttachmentKind.photo, AttachmentKind.voice]
        assert all(f.file_id and f.file_unique_id for f in files)
        assert (await s.scalar(select(CaseRating).where(CaseRating.case_id == case.id))).comment == "非常感谢张师傅"
        assert (await s.scalar(select(CaseHandover).where(CaseHandover.case_id == case.id))).document == "户口本复印件"


async def test_not_solved_reopens_as_rework(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    number = await file_text(resident, "厨房水管漏水了")
    case = await case_by_number(bot, number)
    note = await worker.received(number)
    await worker.tap_in(note, zh("✅ Accept"))
    await worker.press(note.message_id, f"cs:res:{case.id}:0")
    await worker.send("已更换水管接头")
    await worker.send(zh("Skip"))
    ask = await resident.received("已更换水管接头")
    await resident.tap_in(ask, zh("❌ Not solved"))
    assert zh("✅ Done") in resident.reply_keyboard()  # straight into telling the worker what is wrong
    mark = worker.last_id
    await resident.send("还在滴水")
    await worker.received("还在滴水", after=mark)
    reopened = await case_by_number(bot, number)
    assert reopened.status == CaseStatus.reopened and reopened.reopen_count == 1
    # A menu button pressed while talking is the menu, not a message to the worker.
    mark = worker.last_id
    listing = await resident.send(zh("📂 My cases"))
    assert number in listing[-1].inline_buttons[0][0][0]
    # ...and the ✅ Done left on the keyboard afterwards does not start a new case.
    await resident.send(zh("✅ Done"))
    assert worker.last_id == mark
    async with bot.app.sessionmaker() as s:
        from models import Case

        assert len(list(await s.scalars(select(Case)))) == 1

    # The worker finishes again; the resident confirms this time and sees the whole timeline.
    await worker.press(note.message_id, f"cs:res:{case.id}:0")
    await worker.send("换了新的水龙头")
    await worker.send(zh("Skip"))
    ask = await resident.received("换了新的水龙头")
    await resident.tap_in(ask, zh("✅ Solved"))
    await resident.tap("⭐⭐⭐⭐ 4")
    await resident.send(zh("Skip"))
    listing = await resident.send("/mycases")
    await resident.tap_in(listing[-1], number)
    card = resident.last.text
    for step in ("not solved: reopened", "confirmed solved", "rated"):
        assert zh(step) in card, step
    # She knows her own worker's given name (issue 20); the timeline names roles, never people.
    assert zh("Your grid worker: {name}").format(name="张伟") in card
    assert "张伟" not in card.split(zh("<b>Timeline</b>").replace("<b>", "").replace("</b>", ""))[1]
    async with bot.app.sessionmaker() as s:
        types = list(await s.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case.id)
                                     .order_by(CaseEvent.id)))
    assert types.count(CaseEventType.resolved) == 2 and types.count(CaseEventType.reopened) == 1


async def test_accept_race_through_the_bot(bot):
    resident = person(bot, RESIDENT)
    workers = people(bot, WORKER, WORKER2)
    number = await file_text(resident, "楼道灯坏了")
    notes = [await w.received(number) for w in workers]
    # Both press at the same moment: the updates are stored, then handled concurrently.
    actions = [await w.emu.press_button(w.user, n.message_id, n.inline_buttons[0][0][1])
               for w, n in zip(workers, notes, strict=True)]
    for action in actions:
        await bot.settle(action)
    answers = {a["callback_query_id"]: a for a in bot.emu.callback_answers}
    texts = [answers[a.callback_query_id].get("text", "") for a in actions]
    alerts = [answers[a.callback_query_id].get("show_alert", False) for a in actions]
    assert sorted(alerts) == [False, True], texts
    case = await case_by_number(bot, number)
    winner = workers[alerts.index(False)]
    assert case.owner_id is not None and case.status == CaseStatus.accepted
    async with bot.app.sessionmaker() as s:
        from models import User

        owner = await s.get(User, case.owner_id)
        accepted = list(await s.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                                CaseEvent.type == CaseEventType.accepted)))
    assert owner.telegram_id == winner.id and len(accepted) == 1


async def test_forged_buttons_are_refused(bot):
    resident = person(bot, RESIDENT)
    stranger = person(bot, NEIGHBOUR)  # a resident of another grid
    outsider = person(bot, OTHER_WORKER)  # a worker of another grid
    number = await file_text(resident, "单元门锁坏了")
    case = await case_by_number(bot, number)
    await stranger.send("/start")
    await outsider.send("/start")
    msg = stranger.last.message_id
    seen = len(stranger.messages())
    for data in (f"cs:view:{case.id}:0", f"cs:ok:{case.id}:0", f"cs:nok:{case.id}:0", f"cs:rate:{case.id}:5",
                 f"cs:wdy:{case.id}:0", f"cs:emgy:{case.id}:0", f"cs:files:{case.id}:0", f"cs:chat:{case.id}:0",
                 f"cs:wd:{case.id}:0", f"cs:ratep:{case.id}:0"):
        await stranger.press(msg, data)
        answer = stranger.last_callback_answer()
        assert answer.get("show_alert") and zh("That case is not available.") in answer["text"], (data, answer)
    assert len(stranger.messages()) == seen  # not even a question ("withdraw this case?", the stars)
    msg = outsider.last.message_id
    for data in (f"cs:acc:{case.id}:0", f"cs:eack:{case.id}:0", f"cs:res:{case.id}:0", f"cs:dept:{case.id}:0",
                 f"cs:note:{case.id}:0", "ce:ack:1", "ce:rep:1"):
        await outsider.press(msg, data)
        assert outsider.last_callback_answer().get("show_alert"), data
    # The resident cannot accept their own case; garbage data is a stale button.
    await resident.press(resident.last.message_id, f"cs:acc:{case.id}:0")
    assert zh("You are not allowed to do that.") in resident.last_callback_answer()["text"]
    await resident.press(resident.last.message_id, "cs:acc:notanumber:0")
    assert resident.last_callback_answer().get("show_alert")
    fresh = await case_by_number(bot, number)
    assert fresh.status == CaseStatus.new and fresh.owner_id is None and not fresh.emergency
    async with bot.app.sessionmaker() as s:
        types = list(await s.scalars(select(CaseEvent.type).where(CaseEvent.case_id == case.id)))
    assert types == [CaseEventType.submitted]


async def test_a_question_about_a_case_is_asked_only_while_it_can_be_answered(bot):
    """"Withdraw this case?" and the rating stars are offered only when the answer
    could be taken: an old button on a withdrawn case is refused at once, in words."""
    resident = person(bot, RESIDENT)
    number = await file_text(resident, "楼道灯不亮")
    case = await case_by_number(bot, number)
    msg = resident.last.message_id
    asked = [m for m in await resident.press(msg, f"cs:wd:{case.id}:0")
             if zh("Withdraw this case? Your grid worker will stop working on it.") in m.text]
    assert asked
    await resident.tap_in(asked[-1], zh("🗑 Yes, withdraw it"))
    assert (await case_by_number(bot, number)).close_reason == CloseReason.withdrawn
    seen = len(resident.messages())
    await resident.press(msg, f"cs:wd:{case.id}:0")
    assert resident.last_callback_answer()["text"] == zh("Case {number} is closed.").format(number=number)
    await resident.press(msg, f"cs:ratep:{case.id}:0")  # nothing was done: nothing to rate
    assert resident.last_callback_answer()["text"] == zh("Case {number} is closed.").format(number=number)
    assert len(resident.messages()) == seen
