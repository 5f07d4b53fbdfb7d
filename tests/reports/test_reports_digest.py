"""The Monday digest: each community's staff get last week's figures, a line
per grid, the overdue cases and the households overdue, once, through the
outbox, with a button that makes the files of exactly that week."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select

from bot.jobs import REGISTRY
from bot.services.l10n import translator
from bot.services.reports import jobs as reports_jobs
from handlers.reports.router import ReportCb
from models import OutboxKind, OutboxMessage
from tests.factories import SETTINGS, SH
from tests.reports.world import make_report_world

# Monday 7 December 2026, 07:30 in Shanghai: last week is 30 November – 6 December.
MONDAY = datetime(2026, 12, 7, 7, 30, tzinfo=SH)


async def test_weekly_digest_to_each_secretary(sessionmaker):
    job = REGISTRY["reports.weekly_digest"]
    assert (job.at, job.weekdays) == (time(7, 30), frozenset({0}))
    async with sessionmaker() as s:
        w = await make_report_world(s)
        await s.commit()
        c1, c2 = w.place.communities
    assert await reports_jobs.send_weekly_digests(sessionmaker, SETTINGS, MONDAY) == 2
    assert await reports_jobs.send_weekly_digests(sessionmaker, SETTINGS, MONDAY) == 0  # a rerun queues nothing
    async with sessionmaker() as s:
        rows = {r.user_id: r for r in await s.scalars(select(OutboxMessage))}
    assert set(rows) == {w.s1.id, w.s2.id}
    mine = rows[w.s1.id]
    assert mine.kind == OutboxKind.digest
    text = mine.payload["text"]
    zh = translator("zh-Hans")
    assert zh("Last week in {community}: {start} – {end}").format(community="新站社区", start="11-30",
                                                                    end="12-06") in text
    # Last week's cohort: F (30 Nov 23:30) and G (1 Dec 00:10), both in grid 1, neither closed.
    assert zh("Received {sent} · accepted {accepted} · closed {closed} · withdrawn {withdrawn} · not closed yet "
              "{open}").format(sent=2, accepted=0, closed=0, withdrawn=0, open=2) in text
    assert "<b>新站社区第1网格</b>" in text and "<b>新站社区第2网格</b>" in text
    # Overdue now (a snapshot): E since its 27 November deadline, F and G unaccepted since 1 December 10:30.
    # Open now and overdue now are one snapshot: E, F, G are open, all three overdue (never more than open).
    assert zh("Open now {open} · of them overdue {overdue}").format(open=3, overdue=3) in text
    assert text.index("DC-2026-E") < text.index("DC-2026-F")  # the longest overdue first
    assert "DC-2026-H" not in text  # another community
    assert "新站社区第1网格: 2" in text  # HH1 (due 11-30) and HH2 (due 12-03) are overdue on 12-07
    [[button]] = mine.payload["buttons"]
    cb = ReportCb.unpack(button["callback_data"])
    assert (cb.action, cb.kind, cb.id, cb.period) == ("files", "community", c1.id, "d20261130-20261206")
    theirs = rows[w.s2.id].payload["text"]
    assert "Last week in Laozhan: 11-30 – 12-06" in theirs  # in their language
    assert ReportCb.unpack(rows[w.s2.id].payload["buttons"][0][0]["callback_data"]).id == c2.id
