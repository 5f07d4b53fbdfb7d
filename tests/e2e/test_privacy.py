"""Privacy rights through the real bot: a copy of one's data (/mydata), erasure
(/deletemydata), only in a private chat (docs/privacy.md)."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from bot.services.privacy import ERASED_TEXT
from models import (
    Case,
    CaseAttachment,
    CaseStatus,
    CloseReason,
    Household,
    InboundUpdate,
    OutboxMessage,
    User,
)
from tests.e2e.cases.helpers import HEAD, NUMBER_RE, RESIDENT, WORKER, people, person, zh


async def _open_case(bot, resident) -> str:  # type: ignore[no-untyped-def]
    await resident.send("/start")
    await resident.send("楼道灯坏了，我的身份证号220502")
    await resident.send_photo(b"\xff\xd8 household register", caption="户口本")
    done = await resident.send(zh("✅ Send"))
    return NUMBER_RE.search(done[-1].text).group(0)


async def test_mydata_sends_everything_stored_about_the_resident(bot):
    resident = person(bot, RESIDENT)
    number = await _open_case(bot, resident)
    answer = await resident.send("/mydata")
    document = answer[-1]
    assert document.kind == "document" and document.file_name == "mydata.json"
    data = json.loads(bot.emu.file_bytes(document.file_id).decode("utf-8"))
    async with bot.app.sessionmaker() as s:
        user = await s.scalar(select(User).where(User.telegram_id == RESIDENT))
    assert data["profile"]["telegram_id"] == RESIDENT and data["profile"]["phone"] == user.phone
    assert data["profile"]["home"]["building"]
    assert set(data["consents"]) == {"privacy_notice"}
    [case] = data["cases"]
    assert case["number"] == number and case["description"].startswith("楼道灯坏了，我的身份证号220502")
    assert [f["caption"] for f in case["files_you_sent"]] == ["户口本"]
    assert [e["event"] for e in case["timeline"]][:1] == ["submitted"]
    assert "appointments" in data and data["roles"] == []


async def test_deletemydata_erases_identity_and_keeps_anonymous_figures(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    number = await _open_case(bot, resident)
    note = await worker.received(number)
    before = resident.last_id
    await worker.tap_in(note, zh("✅ Accept"))  # she is told: a message to her in the outbox
    await resident.received(number, after=before)
    async with bot.app.sessionmaker() as s:
        user_id = await s.scalar(select(User.id).where(User.telegram_id == RESIDENT))
        outbox_before = await s.scalar(select(func.count()).select_from(OutboxMessage)
                                       .where(OutboxMessage.user_id == user_id))
    assert outbox_before  # the bot has written to her (the case receipt at least)

    ask = await resident.send("/deletemydata")
    assert "不能恢复" in ask[-1].text
    kept = await resident.tap("不删除")
    assert "没有删除" in kept[-1].text
    async with bot.app.sessionmaker() as s:
        assert (await s.get(User, user_id)).telegram_id == RESIDENT  # nothing happened

    await resident.send("/deletemydata")
    async with bot.app.sessionmaker() as s:
        hers = list(await s.scalars(select(InboundUpdate.id).where(InboundUpdate.chat_id == RESIDENT)))
    done = await resident.tap("🗑 确定删除")
    assert any("您的数据已删除" in (m.text or "") for m in done)
    async with bot.app.sessionmaker() as s:  # the tap itself
        hers.append(await s.scalar(select(func.max(InboundUpdate.id))))
    await worker.received(zh("🗑 The resident withdrew case {number}. Nothing more to do.").format(number=number))

    async with bot.app.sessionmaker() as s:
        user = await s.get(User, user_id)
        assert (user.telegram_id, user.first_name, user.phone, user.username, user.building_id) == (
            None, "", None, None, None)
        assert user.registered_at is None and user.privacy_consent_at is None
        case = await s.scalar(select(Case).where(Case.number == number))
        # The case stays, anonymous, for the figures; her words and files do not.
        assert case.resident_id == user_id and case.description == ERASED_TEXT
        assert (case.status, case.close_reason) == (CaseStatus.closed, CloseReason.withdrawn)
        files = list(await s.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)))
        assert files and all(f.file_id is None and f.caption is None for f in files)
        payloads = list(await s.scalars(select(OutboxMessage.payload).where(OutboxMessage.user_id == user_id)))
        assert payloads and all("220502" not in json.dumps(p, ensure_ascii=False) for p in payloads)
        assert all(p == {} for p in payloads), payloads
        assert not await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.chat_id == RESIDENT))
        # Her own updates (the worker's, quoting a card about her case, go with retention).
        raw = list(await s.scalars(select(InboundUpdate.payload).where(InboundUpdate.id.in_(hers))))
        assert len(raw) == len(hers) and all("220502" not in p and "王桂芝" not in p and str(RESIDENT) not in p for p in raw)
        assert not await s.scalar(select(func.count()).select_from(InboundUpdate).where(
            InboundUpdate.chat_id == RESIDENT))
        assert await s.scalar(select(func.count()).select_from(User).where(User.telegram_id == RESIDENT)) == 0

    # Coming back is coming back as someone new.
    again = await resident.send("/start")
    assert "👋" in again[0].text  # the first-contact welcome


async def test_staff_cannot_erase_themselves_and_groups_get_nothing(bot):
    worker = person(bot, WORKER)
    await worker.send("/deletemydata")
    await worker.tap("🗑 确定删除")
    assert "取消您的职务" in worker.last_callback_answer()["text"]
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(User.first_name).where(User.telegram_id == WORKER)) == "张伟"

    resident = person(bot, RESIDENT)
    group = bot.emu.create_group("楼栋群")
    before = bot.emu.state.version
    action = await bot.emu.send_text(resident.user, "/mydata", chat=group)
    await bot.settle(action)
    said = [m for m in bot.emu.chat_history(group.id) if m.from_bot and m.version > before]
    assert [m.text for m in said] == ["请私聊我：群里不显示个人信息。"]  # the group gate (handlers/private.py)
    assert all(m.kind != "document" for m in bot.emu.chat_history(group.id))


async def test_a_resident_sees_what_the_household_ledger_says_about_her(bot):
    resident, head = people(bot, RESIDENT, HEAD)
    profile = await resident.send("/profile")
    assert "住户台账" not in profile[0].text
    async with bot.app.sessionmaker() as s:
        household = await s.scalar(select(Household).where(Household.code == "DC-XS-01-02-H1"))
    await head.send("/start")
    panel = await head.send("📒 民情日志")
    await head.press(panel[-1].message_id, f"dy:hres:{household.id}:0:")
    assert "这户是本楼哪位" in head.last.text
    linked = await head.tap("👤 王桂芝")
    assert "王桂芝" in linked[-1].text
    # A resident of the building cannot do it with a forged button.
    await resident.press(resident.last.message_id, f"dy:hlink:{household.id}:0:")
    assert resident.last_callback_answer().get("show_alert")

    profile = await resident.send("/profile")
    assert "住户台账：👵 独居老人" in profile[0].text
    document = (await resident.send("/mydata"))[-1]
    data = json.loads(bot.emu.file_bytes(document.file_id).decode("utf-8"))
    assert data["household_ledger_tags"] == ["elderly_alone"]
    async with bot.app.sessionmaker() as s:
        assert (await s.get(Household, household.id)).resident_id is not None
