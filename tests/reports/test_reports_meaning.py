"""Issue 20: reports that mean one thing (docs/metrics.md, "One word per measure").

Worked by hand on tests/reports/world.py: 收到 (received) is the cohort, 受理
(accepted) the cohort's accepted cases; 办结率 is closed over *due* cases (a case whose
handling deadline has not passed is never counted against it); the trend plots the
chosen period only; open now (在办) and overdue now (超期) are one snapshot, so the
overdue are never more than the open; the workbook's missed target is 未达标, never
an appointment's 爽约."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook

from bot.services import reports
from bot.services.l10n import translator
from bot.services.reports.jobs import digest_text
from bot.services.reports.periods import period_for
from tests.factories import SETTINGS, SH
from tests.factories import shanghai as at
from tests.reports.world import AS_OF

NOVEMBER = "d20261101-20261130"


async def _c1(sessionmaker, w, period: str, as_of, locale: str = "en"):  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        user = await s.get(type(w.s1), w.s1.id)
        return await reports.build(s, SETTINGS, user, "community", w.place.communities[0].id, period, locale, as_of)


async def test_received_accepted_and_due_are_three_counts(sessionmaker, world):
    r = await _c1(sessionmaker, world, NOVEMBER, AS_OF)
    c = r.cases
    # Received A B C D E F; accepted A B C E (D was withdrawn first, F never accepted).
    assert (c.sent, c.accepted) == (6, 4)
    # Due: A B C closed; E (deadline 11-27) and F (12-02 17:30) past their deadlines; D withdrawn.
    assert (c.due, c.completed, c.completion_rate) == (5, 3, pytest.approx(3 / 5))


async def test_a_case_whose_deadline_has_not_passed_is_not_counted_against_completion(sessionmaker, world):
    december = "d20261201-20261201"
    # G was sent at 00:10 on 1 December, to be done by 2 December 17:30.  At noon on the 1st it is not due.
    r = await _c1(sessionmaker, world, december, at(12, 1, 12))
    assert (r.cases.sent, r.cases.due, r.cases.open, r.cases.completion_rate) == (1, 0, 1, None)
    assert {t.key: t.met for t in r.targets}["completion"] is None  # no data, not a missed target
    # On 3 December it is past its deadline and still open: now it counts, as not closed.
    r = await _c1(sessionmaker, world, december, AS_OF)
    assert (r.cases.due, r.cases.completion_rate) == (1, 0.0)


async def test_the_trend_plots_the_chosen_period_only(sessionmaker, world):
    # "This month" on 3 December: one bucket, from Tuesday 1 December, no empty weeks of October or November.
    this_month = period_for("tm", date(2026, 12, 3))
    r = await _c1(sessionmaker, world, this_month.code, AS_OF)
    assert [p.start.astimezone(SH).date() for p in r.trend] == [date(2026, 12, 1)]
    assert sum(p.sent for p in r.trend) == r.cases.sent == 1  # G
    # A typed month as of later: its weeks, cut at both ends to the month, adding up to the month.
    r = await _c1(sessionmaker, world, NOVEMBER, AS_OF)
    starts = [p.start.astimezone(SH).date() for p in r.trend]
    assert starts[0] == date(2026, 11, 1) and starts[-1] == date(2026, 11, 30)
    assert all(date(2026, 11, 1) <= d <= date(2026, 11, 30) for d in starts)
    assert (sum(p.sent for p in r.trend), sum(p.completed for p in r.trend), sum(p.due for p in r.trend)) == (
        r.cases.sent, r.cases.completed, r.cases.due)


async def test_summary_and_digest_say_the_same_and_never_overdue_above_open(sessionmaker, world):
    r = await _c1(sessionmaker, world, NOVEMBER, AS_OF, "zh-Hans")
    zh = translator("zh-Hans")
    # Open now: E (in progress), F and G (new); all three are past a limit.
    assert (r.open_now, r.overdue_cases) == (3, 3)
    line = zh("Open now {open} · of them overdue {overdue}").format(open=3, overdue=3)
    assert line == "目前在办 3 · 其中超期 3"
    summary = reports.summary_text(zh, r)
    digest = digest_text(zh, r, [], {}, SETTINGS.display_tz)
    for text in (summary, digest):
        assert line in text and "收到 6 · 受理 4 · 办结 3 · 撤回 1 · 未办结 2" in text
        # Each snapshot said once (the digest printed both twice: in its figures and over their lists).
        assert text.count(line) == 1 and text.count("目前逾期未走访的住户") == 1
    # One word per measure: 受理 is never the received count, 爽约 never a target.
    assert "受理 6" not in summary
    wb = load_workbook(io.BytesIO(reports.render_xlsx(r)))
    targets = {row[0]: row[3] for row in wb[zh("Summary")].iter_rows(values_only=True) if row and len(row) > 3}
    assert targets["办结率"] == "未达标" and "爽约" not in targets.values()  # 60% against 95%
    rows = {row[0]: row[1] for row in wb[zh("Summary")].iter_rows(values_only=True) if row and row[0]}
    assert (rows["收到事件"], rows["受理"], rows["到期"], rows["目前在办"]) == (6, 4, 5, 3)
