"""A community secretary asks for a report in chat and gets the summary, the
chart and the spreadsheets; the Monday digest's button makes the files; a grid
head's forged button for someone else's scope is refused.  The real bot, the
delivery engine and the emulator."""

from __future__ import annotations

import io
import re
from datetime import timedelta

from aiogram.fsm.storage.base import StorageKey
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select, update

from bot.services.dates import local_day
from bot.services.reports import jobs as reports_jobs
from handlers.reports.router import ReportCb
from models import (
    CaseEventType,
    CaseKind,
    CaseStatus,
    CloseReason,
    Community,
    Grid,
    User,
    utcnow,
)
from tests.factories import add_case

SECRETARY_XS, HEAD_XS01, RESIDENT = 7000000002, 7000000013, 7000000040


async def _cases(sessionmaker) -> None:  # type: ignore[no-untyped-def]
    """Two cases of grid DC-XS-01 sent an hour ago: one closed, one open."""
    now = utcnow()
    async with sessionmaker() as s:
        await s.execute(update(User).where(User.telegram_id.in_([SECRETARY_XS, HEAD_XS01])).values(locale="en"))
        grid = await s.scalar(select(Grid).where(Grid.code == "DC-XS-01"))
        resident = await s.scalar(select(User).where(User.telegram_id == RESIDENT))
        for i, closed in enumerate((True, False)):
            sent = now - timedelta(minutes=60 - i)
            events = [(CaseEventType.submitted, sent, {}, None)]
            if closed:
                events += [(CaseEventType.accepted, sent + timedelta(minutes=5), {"on_time": True}, None),
                           (CaseEventType.resolved, sent + timedelta(minutes=20), {"on_time": True}, None),
                           (CaseEventType.confirmed, sent + timedelta(minutes=30), {}, None)]
            await add_case(s, events, number=f"DC-2026-90000{i}", kind=CaseKind.report, resident_id=resident.id,
                           community_id=grid.community_id, grid_id=grid.id,
                           status=CaseStatus.closed if closed else CaseStatus.new,
                           close_reason=CloseReason.confirmed if closed else None)
        await s.commit()


def _key(running, user_id: int) -> StorageKey:  # type: ignore[no-untyped-def]
    return StorageKey(bot_id=running.app.bot.id, chat_id=user_id, user_id=user_id)


def _files(person, after: int):  # type: ignore[no-untyped-def]
    msgs = [m for m in person.messages() if m.message_id > after]
    return ([m for m in msgs if m.kind == "photo"], [m for m in msgs if m.kind == "document"])


async def test_secretary_gets_report_and_digest_files(running, demo_sessionmaker):
    # ``running`` has no quiet hours: they would hold the digest (not urgent) at night in Shanghai.
    emu = running.emu
    await _cases(demo_sessionmaker)
    secretary = running.person(emu.create_user(first_name="刘秀梅", user_id=SECRETARY_XS, language_code="en"))
    head = running.person(emu.create_user(first_name="李红霞", user_id=HEAD_XS01, language_code="en"))

    answer = await secretary.from_menu("📊 Reports")
    assert "Which report?" in answer[-1].text
    answer = await secretary.tap("Xinzhan Community (community)")
    assert "which period?" in answer[-1].text
    await secretary.tap("Choose dates")
    today = local_day(utcnow(), running.app.settings.tz)
    before = secretary.last.message_id
    await secretary.send(f"{today - timedelta(days=1):%Y-%m-%d} {today:%Y-%m-%d}")
    await emu.wait_for(lambda: len(_files(secretary, before)[1]) == 2, timeout=20)
    summary = next(m for m in secretary.messages() if m.message_id > before and m.kind == "text")
    assert "Received 2 · accepted 1 · closed 1 · withdrawn 0 · not closed yet 1" in summary.text
    assert "Completion rate 50.0% ❌ (target ≥ 95%)" in summary.text
    photos, documents = _files(secretary, before)
    assert Image.open(io.BytesIO(emu.file_bytes(photos[0].file_id))).format == "PNG"
    names = sorted(d.file_name for d in documents)
    assert names[0].endswith("-cases.csv") and names[1].endswith(".xlsx")
    xlsx = next(d for d in documents if d.file_name.endswith(".xlsx"))
    wb = load_workbook(io.BytesIO(emu.file_bytes(xlsx.file_id)))
    rows = {r[0]: r[1] for r in wb["Summary"].iter_rows(values_only=True) if r and r[0]}
    assert (rows["Cases received"], rows["Closed"], rows["Completion rate"]) == (2, 1, 0.5)
    csv = next(d for d in documents if d.file_name.endswith(".csv"))
    assert emu.file_bytes(csv.file_id).decode("utf-8-sig").count("DC-2026-90000") == 2

    # Waiting for typed dates, a main-menu button does its own job and drops the report.
    await secretary.send("📊 Reports")
    await secretary.tap("Xinzhan Community (community)")
    await secretary.tap("Choose dates")
    community = await secretary.send("🏘️ My community")
    assert community and "two dates" not in community[0].text.lower()
    state = await running.app.dp.storage.get_state(_key(running, secretary.id))
    assert state is None

    # A grid head forges a button for the community: refused, nothing sent.
    answer = await head.send("/report")
    assert "Report for Xinzhan Grid 1" in answer[-1].text  # one scope: straight to the period
    async with demo_sessionmaker() as s:
        xs = await s.scalar(select(Community).where(Community.code == "DC-XS"))
        xs02 = await s.scalar(select(Grid).where(Grid.code == "DC-XS-02"))
    count = len(head.messages())
    for forged in (ReportCb(action="period", kind="community", id=xs.id, period="tw"),
                   ReportCb(action="files", kind="grid", id=xs02.id, period="d20261101-20261130"),
                   ReportCb(action="scope", kind="district", id=1)):
        await head.press(answer[-1].message_id, forged.pack())
        assert emu.callback_answers[-1]["text"] == "That report is not available to you."
    assert len(head.messages()) == count

    # The Monday digest reaches the secretary through the delivery engine; its button makes the files.
    app = running.app
    assert await reports_jobs.send_weekly_digests(app.sessionmaker, app.settings, utcnow()) >= 1
    digest = await emu.wait_for_message(SECRETARY_XS, predicate=lambda m: "Last week in" in (m.text or ""),
                                        timeout=15)
    assert "Open now 1 · of them overdue 0" in digest.text and "Households overdue for a visit now" in digest.text
    before = secretary.last.message_id
    await secretary.press(digest.message_id, digest.inline_buttons[0][0][1])
    await emu.wait_for(lambda: len(_files(secretary, before)[1]) == 2, timeout=20)
    photos, documents = _files(secretary, before)
    assert len(photos) == 1
    assert not [m for m in secretary.messages() if m.message_id > before and m.kind == "text"]  # files only


async def test_a_fresh_case_is_not_missed_and_the_report_and_digest_agree(bot, demo_sessionmaker):
    """Issue 20, through the bot in Chinese: a case the resident sent a minute ago is received, not
    accepted and not due, so 办结率 has no data (never 未达标, never 爽约); "在办" and "超期" are the
    same snapshot in the summary and in the Monday digest; "本月" plots this month's weeks only."""
    from bot.services.l10n import translator
    from tests.e2e.cases.helpers import SECRETARY, file_report, person

    zh = translator("zh-Hans")
    now = utcnow()
    async with demo_sessionmaker() as s:  # an older case of the grid, nobody accepted it: overdue now
        grid = await s.scalar(select(Grid).where(Grid.code == "DC-XS-01"))
        resident = await s.scalar(select(User).where(User.telegram_id == RESIDENT))
        await add_case(s, [(CaseEventType.submitted, now - timedelta(days=4), {}, None)], number="DC-2026-900009",
                       kind=CaseKind.report, resident_id=resident.id, community_id=grid.community_id,
                       grid_id=grid.id, status=CaseStatus.new, accept_due_at=now - timedelta(days=4, hours=-2),
                       resolve_due_at=now - timedelta(days=1))
        await s.commit()
    fresh = await file_report(person(bot, RESIDENT), "设施维修", "1单元楼道灯不亮")
    secretary = person(bot, SECRETARY)
    await secretary.send("/start")

    async def report(period_label: str, typed: str | None = None):  # type: ignore[no-untyped-def]
        await secretary.send(zh("📊 Reports"))
        await secretary.tap(re.compile("^(🏘️ )?新站社区"))
        before = secretary.last_id
        asked = await secretary.tap(period_label)
        if typed:  # asked for dates: a ❌ Cancel button, no command to type (issue 20)
            assert "/cancel" not in asked[-1].text and asked[-1].inline_buttons == [[(zh("❌ Cancel"), "nav:cancel")]]
            await secretary.send(typed)
        await bot.emu.wait_for(lambda: len(_files(secretary, before)[1]) == 2, timeout=20)
        summary = next(m for m in secretary.messages() if m.message_id > before and m.kind == "text"
                       and "收到 " in (m.text or ""))
        xlsx = next(d for d in _files(secretary, before)[1] if d.file_name.endswith(".xlsx"))
        return summary.text, load_workbook(io.BytesIO(bot.emu.file_bytes(xlsx.file_id)))

    today = local_day(utcnow(), bot.app.settings.tz)
    text, wb = await report(zh("✏️ Choose dates"), f"{today:%Y-%m-%d}")
    assert "收到 1 · 受理 0 · 办结 0 · 撤回 0 · 未办结 1" in text  # 收到 is not 受理
    assert "到期 0 件中办结 0 件" in text and "办结率 –" in text  # sent a minute ago: not due, not missed
    open_line = "目前在办 2 · 其中超期 1"  # the fresh one and the old one; of them the old one is overdue
    assert open_line in text
    met = {row[0]: row[3] for row in wb[zh("Summary")].iter_rows(values_only=True) if row and len(row) > 3}
    assert met["办结率"] == zh("no data") and "未达标" not in met.values() and "爽约" not in met.values()
    assert fresh  # its number was given to her

    # The Monday digest says the same of now.
    mark = secretary.last_id
    assert await reports_jobs.send_weekly_digests(bot.app.sessionmaker, bot.app.settings, utcnow()) >= 1
    digest = await secretary.received("新站社区上周情况", after=mark)
    assert open_line in digest.text

    # 本月: the weeks of this month only, adding up to the month's received.
    text, wb = await report(zh("🗓 This month"))
    weeks = [row for row in wb[zh("Weekly trend")].iter_rows(values_only=True)][1:]
    starts = [row[0] for row in weeks if row and row[0] is not None]
    assert starts and all(str(d)[:7] == f"{today:%Y-%m}" for d in starts), starts
    received = int(text.split("收到 ")[1].split(" ")[0])
    assert sum(int(row[1]) for row in weeks if row and row[0] is not None) == received >= 1
