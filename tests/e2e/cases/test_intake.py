"""Intake through the bot: typing at the menu, files and a location over several
messages, cancelling, an unsent draft kept for later, bad input, a similar case
in the building followed instead, and the administrators' holiday calendar."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from models import (
    AttachmentKind,
    Building,
    Case,
    CaseAttachment,
    CaseFollower,
    CaseStatus,
    Holiday,
    HolidayKind,
    User,
    utcnow,
)
from tests.e2e.cases.helpers import ADMIN, NUMBER_RE, RESIDENT, WORKER, people, person, zh


async def _cases(bot) -> list[Case]:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        return list(await s.scalars(select(Case).order_by(Case.id)))


async def test_free_message_with_files_and_location_becomes_a_case(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    await resident.send("/start")
    first = await resident.send("楼下垃圾三天没人清运了")
    assert first[-1].text == zh("📥 I have written this down as a new request to your grid team. Add photos, a voice "
                                "message or your location if it helps, then tap ✅ Send. (❌ Cancel if you did not "
                                "mean to.)")
    await resident.send_photo(b"\xff\xd8 rubbish")
    await resident.send_voice()
    await resident.send_document(b"%PDF notice", "notice.pdf")
    located = await resident.share_location(41.7436, 125.9182)
    assert "📥" in located[-1].text
    # Nothing is sent until Send: the workers have heard nothing, the draft has it all.
    drafts = await _cases(bot)
    assert [c.status for c in drafts] == [CaseStatus.draft] and drafts[0].number is None
    assert worker.messages() == []
    done = await resident.send(zh("✅ Send"))
    number = NUMBER_RE.search(done[-1].text).group(0)
    note = await worker.received(number)
    assert zh("📎 Attachments: {count}").format(count=4) in note.text
    async with bot.app.sessionmaker() as s:
        kinds = list(await s.scalars(select(CaseAttachment.kind).order_by(CaseAttachment.id)))
        case = await s.scalar(select(Case).where(Case.number == number))
    assert kinds == [AttachmentKind.photo, AttachmentKind.voice, AttachmentKind.document, AttachmentKind.location]
    assert case.latitude == pytest.approx(41.7436) and case.description == "楼下垃圾三天没人清运了"
    # The worker can see the files again, re-sent by file id.
    await worker.press(note.message_id, f"cs:files:{case.id}:0")
    await bot.emu.wait_for(lambda: sum(m.kind in ("photo", "voice", "document", "location")
                                       for m in worker.messages()) == 4)


async def test_audio_video_and_video_notes_are_kept_and_relayed(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    await resident.send("/start")
    await resident.send("地下室进水了，视频里能看到")
    await resident._do(bot.emu.send_video(resident.user, b"mp4 flooding", caption="地下室"))
    await resident._do(bot.emu.send_video_note(resident.user, b"mp4 round"))
    await resident._do(bot.emu.send_audio(resident.user, b"ID3 pump noise", "泵.mp3"))
    done = await resident.send(zh("✅ Send"))
    number = NUMBER_RE.search(done[-1].text).group(0)
    note = await worker.received(number)
    async with bot.app.sessionmaker() as s:
        case = await s.scalar(select(Case).where(Case.number == number))
        kinds = list(await s.scalars(select(CaseAttachment.kind).where(CaseAttachment.case_id == case.id)
                                     .order_by(CaseAttachment.id)))
    assert kinds == [AttachmentKind.video, AttachmentKind.video_note, AttachmentKind.audio]
    await worker.press(note.message_id, f"cs:files:{case.id}:0")
    await bot.emu.wait_for(lambda: [m.kind for m in worker.messages() if m.kind != "text"]
                           == ["video", "video_note", "audio"])
    relayed = {m.kind: m for m in worker.messages() if m.kind != "text"}
    assert bot.emu.file_bytes(relayed["video"].file_id) == b"mp4 flooding"
    assert bot.emu.file_bytes(relayed["video_note"].file_id) == b"mp4 round"
    assert relayed["audio"].file_name == "泵.mp3"


async def test_cancel_unsent_draft_and_bad_input(bot):
    resident = person(bot, RESIDENT)
    await resident.send("/start")
    await resident.send(zh("🙋 Ask for help"))
    await resident.tap("医保缴费")
    # The questions come first (by when, what the worker may do); bad dates are refused.
    past = await resident.send("2020-01-01")
    assert zh("That date has passed. Please choose a later one.") in past[-1].text
    garbage = await resident.send("下个月吧")
    assert zh("I could not read that date. Please write it like 12-24.") in garbage[-1].text
    await resident.tap(zh("As soon as possible"))
    await resident.send("代我去医保局缴费，钱我先转给您")  # authorisation in her own words
    # Send with nothing in it: asked to say something first; nothing is sent.
    empty = await resident.send(zh("✅ Send"))
    assert zh("Please tell me what you need first: type it, or send a photo or a voice message.") in empty[-1].text
    too_long = await resident.send("长" * 3001)
    assert zh("That is too long: at most {limit} characters, please.").format(limit=3000) in too_long[-1].text
    await resident.send("帮我交今年的医保")
    # /cancel leaves the draft; the next start offers to continue it.
    await resident.send("/cancel")
    await resident.send(zh("📝 Report a problem"))
    assert zh("✏️ Continue it") in [t for row in resident.last.inline_buttons for t, _d in row]
    await resident.tap(zh("✏️ Continue it"))
    await resident.send(zh("✅ Send"))  # it sends: every question came before
    cases = await _cases(bot)
    assert cases[0].status == CaseStatus.new and cases[0].authorisation == "代我去医保局缴费，钱我先转给您"
    assert cases[0].needed_by is None
    # ❌ Cancel discards a draft for good.
    await resident.send("另外想问问低保的事")
    cancelled = await resident.send(zh("❌ Cancel"))
    assert zh("Cancelled. Nothing was sent.") in cancelled[-1].text
    assert [c.status for c in await _cases(bot)] == [CaseStatus.new]
    # A forged intake button for someone else's draft, or a stale one, changes nothing.
    await resident.press(resident.last.message_id, "ci:discard:1")
    assert resident.last_callback_answer().get("show_alert")
    assert [c.status for c in await _cases(bot)] == [CaseStatus.new]


async def test_similar_case_in_the_building_is_offered_and_followed(bot, demo_sessionmaker):
    async with demo_sessionmaker() as s:
        building = await s.scalar(select(Building).where(Building.code == "DC-XS-01-02"))
        # A neighbour whose home a worker has confirmed (issue 16: a mere claim is offered nothing).
        s.add(User(telegram_id=7100000001, first_name="邻居老赵", locale="zh-Hans", building_id=building.id,
                   grid_id=building.grid_id, registered_at=utcnow(), home_confirmed_at=utcnow(), roles=[]))
        await s.commit()
    resident = person(bot, RESIDENT)
    neighbour = person(bot, 7100000001, "邻居老赵")
    worker = person(bot, WORKER)
    await resident.send("/start")
    await resident.send(zh("📝 Report a problem"))
    await resident.tap("噪音扰民")
    await resident.send("楼上装修每天早上七点就开始")
    first = NUMBER_RE.search((await resident.send(zh("✅ Send")))[-1].text).group(0)

    await neighbour.send("/start")
    await neighbour.send(zh("📝 Report a problem"))
    # Offered as soon as she picks the item, before she writes anything (✅ Send then only sends).
    offer = await neighbour.tap("噪音扰民")
    assert first in offer[-1].text
    assert [t for t, _d in offer[-1].inline_buttons[-1]] == [zh("⬅️ Back"), zh("❌ Cancel")]
    followed = await neighbour.tap(zh("👀 Follow {number}").format(number=first))
    assert followed[0].inline_buttons == [] and first in followed[0].text  # the offer edits into the result
    note = await worker.received(zh("👥 Another resident of the building reports the same as case {number}.").format(
        number=first))
    assert note
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 1
        assert await s.scalar(select(func.count()).select_from(CaseFollower)) == 1
    listing = await neighbour.send("/mycases")
    assert first in listing[-1].inline_buttons[0][0][0]


async def test_administrator_keeps_the_holiday_calendar(bot):
    admin, resident = people(bot, ADMIN, RESIDENT)
    await admin.send("/start")
    await admin.send("/holiday 2099-10-01 off 国庆节")
    await admin.send("/holiday 2099-10-10 work 调休")
    listing = await admin.send("/holidays")
    assert "2099-10-01" in listing[-1].text and "国庆节" in listing[-1].text
    bad = await admin.send("/holiday tomorrow off")
    assert "/holiday" in bad[-1].text
    await resident.send("/start")
    refused = await resident.send("/holiday 2099-10-02 off")
    assert "2099-10-02" not in refused[-1].text
    async with bot.app.sessionmaker() as s:
        rows = {h.day: h.kind for h in await s.scalars(select(Holiday))}
    assert rows == {date(2099, 10, 1): HolidayKind.holiday, date(2099, 10, 10): HolidayKind.workday}


async def test_intake_conversation_state_in_redis(emulator, db_url, demo_sessionmaker, redis_url):
    from tests.conftest import BOT_TOKEN
    from tests.e2e.conftest import make_settings
    from tests.e2e.harness import start_bot

    running = await start_bot(emulator, make_settings(emulator, db_url, REDIS_URL=redis_url, QUIET_HOURS=""),
                              BOT_TOKEN)
    try:
        resident = person(running, RESIDENT, "王桂芝")
        await resident.send("/start")
        await resident.send(zh("🙋 Ask for help"))
        await resident.tap("居住证明")
        await resident.tap(zh("Within a week"))
        await resident.tap(zh("Only ask on my behalf and tell me the answer"))
        await resident.send("请帮我开居住证明")
        done = await resident.send(zh("✅ Send"))
        assert NUMBER_RE.search(done[-1].text)
    finally:
        await running.stop()


async def test_a_button_typed_by_hand_is_the_tap_and_plain_words_stay_words(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    await resident.send("/start")
    await resident.send("小区门口的路灯坏了，晚上很黑")
    typed = await resident.send("发送")  # the word on ✅ 发送, typed rather than tapped
    number = NUMBER_RE.search(typed[-1].text).group(0)
    await worker.received(number)
    async with bot.app.sessionmaker() as s:
        case = await s.scalar(select(Case).where(Case.number == number))
    assert case.status != CaseStatus.draft and case.description == "小区门口的路灯坏了，晚上很黑"
    assert zh("I am the front door of your community's grid service.") in (await resident.send("帮助 "))[-1].text
    # A diary's label ("⚠️ 问题") is a plain word for anyone else: it stays the resident's words.
    words = await resident.send("问题")
    assert "📥" in words[-1].text
    gone = await resident.send("取消")  # ❌ 取消: the draft is dropped
    assert [c.description for c in await _cases(bot) if c.status == CaseStatus.draft] == []
    assert "📥" not in gone[-1].text
