"""The report's figures against numbers worked out by hand from docs/metrics.md
on the fixed data set of tests/reports/world.py (see the table there).

Every expected value below was computed on paper, not by running the code."""

from __future__ import annotations

from datetime import date

import pytest

from bot.config import Settings
from bot.services import reports
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from bot.services.reports import ScopeKind
from tests.factories import SETTINGS, SH
from tests.reports.world import AS_OF, make_report_world

NOVEMBER = "d20261101-20261130"


async def _report(sessionmaker, w, who: str, kind: str, scope: str, period: str = NOVEMBER,  # type: ignore[no-untyped-def]
                  settings: Settings = SETTINGS, locale: str = "en"):
    ids = {"C1": w.place.communities[0].id, "C2": w.place.communities[1].id, "G1": w.place.grids[0].id,
           "G2": w.place.grids[1].id, "G3": w.place.grids[2].id, "D": w.place.district.id}
    async with sessionmaker() as s:
        user = await s.get(type(w.admin), getattr(w, who).id)
        return await reports.build(s, settings, user, kind, ids[scope], period, locale, AS_OF)


async def test_community_month_by_hand(sessionmaker, world):
    # Completion target set to exactly the value reached: equal meets it.
    settings = Settings(_env_file=None, REPORT_TARGET_COMPLETION=60)
    b = await _report(sessionmaker, world, "s1", "community", "C1", settings=settings)
    r, c = b, b.cases
    # Cohort: A B C D E F (G is 1 December local, I is 31 October local).
    assert (c.sent, c.withdrawn, c.completed, c.completed_confirmed, c.completed_auto, c.open) == (6, 1, 3, 2, 1, 2)
    assert c.completion_rate == pytest.approx(3 / 5)
    assert (c.on_time, c.on_time_rate) == (2, pytest.approx(2 / 3))  # B's last resolution was late
    assert (c.resolved, c.reworked, c.rework_rate) == (3, 1, pytest.approx(1 / 3))  # E resolved after as-of
    assert (c.ratings, c.satisfaction_mean, c.satisfied_share, c.comments) == (3, 4.0, pytest.approx(2 / 3), 2)
    # Accept: 6, 30, 120, 240 min -> (30 + 120) / 2 = 75 min.  Close: 4 h, 25 h, 7 d -> 25 h.
    assert c.accept_seconds_median == 75 * 60
    assert c.close_seconds_median == 25 * 3600
    assert (c.emergencies, c.emergency_ack_seconds_median, c.emergency_ack_seconds_max) == (1, 360, 360)
    assert r.overdue_cases == 3  # E (resolve due 11-27), F and G (unaccepted since 12-01 10:30)
    met = {t.key: t.met for t in r.targets}
    assert met == {"completion": True, "on_time": False, "rework": False, "satisfied": False}

    grids = {g.label: g for g in r.by_grid}
    g1, g2 = grids["Xinzhan grid 1"], grids["Xinzhan grid 2"]
    assert (g1.figures.sent, g1.figures.completed, g1.figures.completion_rate) == (4, 2, 0.5)  # A B E F
    assert (g1.figures.on_time_rate, g1.figures.rework_rate, g1.figures.satisfaction_mean) == (0.5, 0.5, 4.0)
    assert g1.figures.close_seconds_median == (25 * 3600 + 7 * 86400) / 2
    assert (g2.figures.sent, g2.figures.withdrawn, g2.figures.completion_rate) == (2, 1, 1.0)  # C D
    assert (g2.figures.rework_rate, g2.figures.satisfied_share) == (0.0, 1.0)

    cats = {row.label: row.figures for row in r.by_category}
    assert (cats["Proof of residence"].sent, cats["Proof of residence"].completion_rate) == (2, 0.5)  # A E
    assert (cats["Repair"].sent, cats["Repair"].completed) == (3, 2)  # B C F
    free = cats["Free requests (no catalogue item)"]
    assert (free.sent, free.withdrawn, free.completion_rate) == (1, 1, None)  # D

    workers = {row.name: row for row in r.by_worker}
    assert (workers["王一"].figures.sent, workers["王一"].figures.completed) == (3, 2)  # A B E
    assert workers["王一"].figures.accept_seconds_median == 120 * 60  # 30, 120, 240 min
    assert (workers["李二"].figures.sent, workers["李二"].figures.completion_rate) == (1, 1.0)  # C
    assert (workers["Not accepted yet"].figures.sent, workers["Not accepted yet"].figures.completed) == (2, 0)
    assert "张三" not in workers  # another community's worker
    # Diary per worker: 王一 logged 3 visits (2 households), 2 opinions, 2 problems, 1 patrol, on 8 days.
    d1 = workers["王一"].diary
    assert (d1.visits, d1.households_visited, d1.opinions, d1.problems, d1.cases_opened, d1.notes) == (3, 2, 2, 2, 1, 1)
    assert (d1.patrols, d1.days_logged) == (1, 8)
    # Closed during the period, whenever sent: A (11-03), B (11-12) and I (11-01, sent in October).
    assert d1.cases_closed == 3

    # Diary of the community: deleted and out-of-period entries left out.
    d = r.diary
    assert (d.visits, d.opinions, d.problems, d.cases_opened) == (4, 3, 2, 1)
    assert d.visits_by_category == {"elderly_alone": 2, "disabled": 1, "other": 1}
    assert d.opinions_by_category == {"environment": 1, "other": 1, "safety": 1}
    assert (g1.diary.visits, g1.diary.opinions, g1.diary.problems, g1.diary.patrols) == (3, 2, 2, 1)
    assert (g2.diary.visits, g2.diary.opinions) == (1, 1)
    # HH1 due 11-30 is overdue on 12-03; HH2 due 12-03 is not; HH4 is inactive; HH5 has no due date.
    assert (r.households_overdue, g1.households_overdue, g2.households_overdue) == (1, 1, 0)

    # Appointments at station ST1 (community C1) in November.
    a = r.appointments
    assert (a.booked, a.attended, a.no_show, a.unmarked, a.upcoming, a.cancelled, a.proxy) == (3, 1, 1, 1, 0, 1, 1)
    assert a.no_show_rate == 0.5
    assert [c.number for c in r.comments] == ["DC-2026-C", "DC-2026-A"]  # lowest score first

    # The trend: weeks cut to November (issue 20: the chosen period, no weeks of October, no
    # days of December): Sunday 1 November alone, four whole weeks, Monday 30 November alone.
    points = [(p.start.astimezone(SH).strftime("%m-%d"), p.sent, p.withdrawn, p.completed, p.due) for p in r.trend]
    assert points == [("11-01", 0, 0, 0, 0), ("11-02", 2, 0, 2, 2), ("11-09", 1, 0, 1, 1), ("11-16", 1, 1, 0, 0),
                      ("11-23", 1, 0, 0, 1), ("11-30", 1, 0, 0, 1)]
    assert sum(p.sent for p in r.trend) == r.cases.sent and sum(p.due for p in r.trend) == r.cases.due
    # The CSV lines are the cohort.
    assert sorted(line.number for line in b.lines) == [f"DC-2026-{n}" for n in "ABCDEF"]


async def test_district_and_grid_by_hand(sessionmaker, world):
    b = await _report(sessionmaker, world, "admin", "district", "D")
    c = b.cases
    assert (c.sent, c.withdrawn, c.completed) == (7, 1, 4)  # + H in community C2
    assert c.completion_rate == pytest.approx(4 / 6)
    assert c.on_time_rate == 0.75 and c.rework_rate == 0.25
    assert (c.satisfaction_mean, c.satisfied_share, c.comments) == (3.5, 0.5, 3)  # 5 3 4 2
    assert c.accept_seconds_median == 30 * 60  # 6, 10, 30, 120, 240 min
    assert c.close_seconds_median == (25 * 3600 + 48 * 3600) / 2  # 4 h, 25 h, 48 h, 7 d
    communities = {row.label: row.figures for row in b.by_community}
    assert (communities["Xinzhan"].sent, communities["Laozhan"].sent, communities["Laozhan"].completion_rate) == (
        6, 1, 1.0)
    assert b.appointments.booked == 4 and b.appointments.attended == 2  # ST1 3 + ST2 1
    assert b.overdue_cases == 3

    # Grid G1 for its grid head; appointments by where the resident lives.
    b = await _report(sessionmaker, world, "h1", "grid", "G1")
    c = b.cases
    assert (c.sent, c.completed, c.completion_rate) == (4, 2, 0.5)
    a = b.appointments
    assert (a.booked, a.attended, a.no_show, a.unmarked, a.cancelled) == (2, 1, 0, 1, 1)
    assert [g.label for g in b.by_grid] == ["Xinzhan grid 1"]


async def test_scope_permissions(sessionmaker):
    async with sessionmaker() as s:
        w = await make_report_world(s)
        await s.commit()
        c1, c2 = w.place.communities
        g1, g2, g3 = w.place.grids[:3]
        d = w.place.district

        async def can(user, kind: ScopeKind, scope_id: int) -> bool:  # type: ignore[no-untyped-def]
            try:
                await reports.build(s, SETTINGS, user, kind.value, scope_id, "lw", "en", AS_OF)
            except NotFound as err:
                assert err.code == "report_scope"
                return False
            return True

        # A grid head: their grid only, whatever the button says.
        assert await can(w.h1, ScopeKind.grid, g1.id)
        for kind, sid in ((ScopeKind.grid, g2.id), (ScopeKind.grid, g3.id), (ScopeKind.community, c1.id),
                          (ScopeKind.district, d.id), (ScopeKind.grid, 999999)):
            assert not await can(w.h1, kind, sid), (kind, sid)
        # Staff: their community and its grids.
        assert await can(w.s1, ScopeKind.community, c1.id) and await can(w.s1, ScopeKind.grid, g2.id)
        for kind, sid in ((ScopeKind.community, c2.id), (ScopeKind.grid, g3.id), (ScopeKind.district, d.id)):
            assert not await can(w.s1, kind, sid)
        # The administrator: everything in the district.
        for kind, sid in ((ScopeKind.district, d.id), (ScopeKind.community, c2.id), (ScopeKind.grid, g3.id)):
            assert await can(w.admin, kind, sid)
        # A forged kind is refused like a scope that does not exist.
        with pytest.raises(NotFound):
            await reports.build(s, SETTINGS, w.admin, "building", g1.id, "lw", "en", AS_OF)
        # Workers and residents get no report at all.
        for user in (w.w1, w.resident):
            with pytest.raises(NotAllowed):
                await reports.scope_options(s, user, "en")
            with pytest.raises(NotAllowed):
                await reports.build(s, SETTINGS, user, "grid", g1.id, "lw", "en", AS_OF)
        # What each one is offered.
        assert [(o.kind, o.id) for o in await reports.scope_options(s, w.h1, "en")] == [(ScopeKind.grid, g1.id)]
        assert [(o.kind, o.id) for o in await reports.scope_options(s, w.s1, "en")] == [
            (ScopeKind.community, c1.id), (ScopeKind.grid, g1.id), (ScopeKind.grid, g2.id)]
        assert [o.kind for o in await reports.scope_options(s, w.admin, "en")] == [
            ScopeKind.district, ScopeKind.community, ScopeKind.community]


def test_periods():
    today = date(2026, 12, 3)  # a Thursday
    p = reports.period_for
    assert (p("tw", today).start, p("tw", today).end) == (date(2026, 11, 30), date(2026, 12, 7))
    assert (p("lw", today).start, p("lw", today).last) == (date(2026, 11, 23), date(2026, 11, 29))
    assert (p("tm", today).start, p("tm", today).end) == (date(2026, 12, 1), date(2027, 1, 1))
    assert (p("lm", today).start, p("lm", today).last) == (date(2026, 11, 1), date(2026, 11, 30))
    assert (p("ty", today).start, p("ty", today).last) == (date(2026, 1, 1), date(2026, 12, 31))
    assert p(NOVEMBER, today) == reports.parse_dates("2026-11-01 2026-11-30", today)
    assert reports.parse_dates("2026年11月1日至2026年11月30日", today).code == NOVEMBER
    assert reports.parse_dates("2026/11/05", today).code == "d20261105-20261105"
    for bad, code in (("soon", "report_dates_format"), ("2026-11-31", "report_dates_format"),
                      ("2026-11-30 2026-11-01", "report_dates_order"), ("2026-12-04", "report_dates_future"),
                      ("2025-01-01 2026-11-01", "report_dates_too_long")):
        with pytest.raises(InvalidInput) as err:
            reports.parse_dates(bad, today)
        assert err.value.code == code, bad
    for forged in ("xx", "d20261301-20261302", "", "d2026-11-01"):
        with pytest.raises(InvalidInput):
            p(forged, today)
