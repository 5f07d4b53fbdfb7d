"""The household ledger and a worker's numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.services.diary import cases as diary_cases
from bot.services.diary import entries as diary
from bot.services.diary import figures as diary_figures
from bot.services.diary import households as diary_households
from bot.services.diary.common import compute_due
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from models import (
    ActorRole,
    CareTag,
    Case,
    CaseEventType,
    CaseStatus,
    EntryKind,
    HouseholdTag,
)
from tests.factories import SH
from tests.unit.diary.world import SETTINGS, T0, local, make_world


def test_compute_due():
    today = date(2026, 12, 1)
    assert compute_due(None, [], SH, None, today) is None
    assert compute_due(None, [30, 7], SH, None, today) == today  # never visited: due now
    assert compute_due(None, [7], SH, date(2026, 11, 20), today) == date(2026, 11, 20)  # and stays overdue
    # 23:30 on 30 November in Shanghai is 15:30 UTC: the local day counts.
    assert compute_due(local(30, 23, 30, month=11), [30, 7], SH, None, today) == date(2026, 12, 7)


async def test_tags_intervals_and_the_due_list(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        today = T0.astimezone(SH).date()
        due = await diary_households.due_households(s, SETTINGS, w.worker, today, "zh-Hans")
        assert [(h.label, h.tags, h.overdue_days) for h in due] == [
            ("王奶奶", {CareTag.elderly_alone: 7}, 0), ("李叔", {CareTag.disabled: 30}, 0)]
        assert [h.label for h in await diary_households.due_households(s, SETTINGS, w.other_worker, today, "en")] \
            == ["赵大爷"]
        with pytest.raises(NotAllowed):
            await diary_households.due_households(s, SETTINGS, w.staff, today, "en")

        # A visit resets the clock; deleting it (same day) puts it back.
        visit = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, T0, household_id=w.alone.id)
        assert (w.alone.last_visit_at, w.alone.visit_due_on) == (T0, today + timedelta(days=7))
        assert [h.label for h in await diary_households.due_households(s, SETTINGS, w.worker, today, "en")] == ["李叔"]
        await diary.delete_entry(s, SETTINGS, w.worker, visit.id, T0 + timedelta(hours=1))
        assert (w.alone.last_visit_at, w.alone.visit_due_on) == (None, today)
        await diary.create_entry(s, SETTINGS, w.worker2, EntryKind.visit, T0, household_id=w.alone.id)

        # Eight days later it is overdue by a day; the shortest interval of its tags counts.
        later = today + timedelta(days=8)
        due = await diary_households.due_households(s, SETTINGS, w.worker, later, "zh-Hans")
        assert [(h.label, h.overdue_days) for h in due] == [("李叔", 8), ("王奶奶", 1)]
        await diary_households.set_tag(s, SETTINGS, w.head, w.disabled.id, CareTag.member_hardship, 14, T0)
        card = await diary_households.household_card(s, w.worker, w.disabled.id, later, "zh-Hans")
        assert card.household.tags == {CareTag.disabled: 30, CareTag.member_hardship: 14}
        assert not card.can_manage
        card = await diary_households.household_card(s, w.staff, w.alone.id, later, "zh-Hans")
        assert card.can_manage and [v.worker for v in card.visits] == ["user9102"]

        # Who may set tags: the grid's head and the community's staff; not workers; others see nothing.
        assert await diary_households.cycle_tag(s, SETTINGS, w.staff, w.alone.id, CareTag.elderly_alone, T0) == 14
        assert await diary_households.cycle_tag(s, SETTINGS, w.head, w.alone.id, CareTag.elderly_alone, T0) == 30
        assert await diary_households.cycle_tag(s, SETTINGS, w.head, w.alone.id, CareTag.elderly_alone, T0) == 91
        assert await diary_households.cycle_tag(s, SETTINGS, w.head, w.alone.id, CareTag.elderly_alone, T0) is None
        assert await s.scalar(select(HouseholdTag).where(HouseholdTag.household_id == w.alone.id)) is None
        assert w.alone.visit_due_on is None  # no tag asks for visits any more
        with pytest.raises(NotAllowed):
            await diary_households.set_tag(s, SETTINGS, w.worker, w.alone.id, CareTag.disabled, 7, T0)
        for stranger in (w.other_staff, w.other_worker, w.officer, w.admin, w.resident):
            with pytest.raises(NotFound):
                await diary_households.set_tag(s, SETTINGS, stranger, w.alone.id, CareTag.disabled, 7, T0)
            with pytest.raises(NotFound):
                await diary_households.household_card(s, stranger, w.alone.id, later, "en")
        with pytest.raises(InvalidInput, match="bad_interval"):
            await diary_households.set_tag(s, SETTINGS, w.head, w.alone.id, CareTag.disabled, 0, T0)


async def test_buildings_and_new_households(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        today = T0.astimezone(SH).date()
        b1, b2 = w.place.buildings[0], w.place.buildings[1]
        lines = await diary_households.grid_buildings(s, w.worker, w.place.grids[0].id, today, "zh-Hans", first=b2.id)
        assert [(b.name, b.households, b.due) for b in lines] == [("1区2号楼", 1, 1), ("1区1号楼", 1, 1)]
        with pytest.raises(NotFound):
            await diary_households.grid_buildings(s, w.other_worker, w.place.grids[0].id, today, "zh-Hans")
        new = await diary_households.add_household(s, SETTINGS, w.head, b1.id, "2-201", " 刘  奶奶 ", T0)
        assert (new.code, new.label, new.grid_id, new.visit_due_on) == ("C1-G1-B1-H1", "刘 奶奶", b1.grid_id, None)
        again = await diary_households.add_household(s, SETTINGS, w.staff, b1.id, None, "孙家", T0)
        assert again.code == "C1-G1-B1-H2"
        assert [h.label for h in await diary_households.building_households(s, w.worker, b1.id, today, "en")] == [
            "王奶奶", "刘 奶奶", "孙家"]
        with pytest.raises(NotAllowed):
            await diary_households.add_household(s, SETTINGS, w.worker, b1.id, None, "x", T0)
        with pytest.raises(NotFound):
            await diary_households.add_household(s, SETTINGS, w.other_staff, b1.id, None, "x", T0)
        with pytest.raises(InvalidInput):
            await diary_households.add_household(s, SETTINGS, w.head, b1.id, None, "  ", T0)


async def test_month_in_numbers_is_the_same_for_everyone_who_may_see_it(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        await diary.start_patrol(s, SETTINGS, w.worker, local(1, 9))
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, local(1, 9, 5), household_id=w.alone.id)
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, local(1, 9, 20), household_id=w.disabled.id)
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, local(1, 9, 40),
                                 building_id=w.place.buildings[0].id, category="member_hardship")
        for category in ("environment", "environment", "welfare"):
            await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, local(1, 10), category=category)
        problem = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, local(1, 10, 30), text="灯坏")
        case = await diary_cases.open_case(s, SETTINGS, w.worker, problem.id, local(1, 10, 31))
        await diary.add_note(s, SETTINGS, w.worker, local(1, 10, 40), text="untagged")
        gone = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, local(1, 11), text="oops")
        await diary.delete_entry(s, SETTINGS, w.worker, gone.id, local(1, 11))
        await diary.end_patrol(s, SETTINGS, w.worker, local(1, 11, 30), "zh-Hans")
        # Another day, and a visit of November that does not count in December.
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, local(3, 15), household_id=w.alone.id)
        await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, local(30, 15, month=11),
                                 household_id=w.alone.id)
        # The worker owned and closed a case this month (confirmed by the resident).
        from bot.services.cases.common import add_event

        case.owner_id, case.status = w.worker.id, CaseStatus.closed
        await add_event(s, case, CaseEventType.confirmed, at=local(2, 10), role=ActorRole.resident)

        mine = await diary_figures.worker_month(s, SETTINGS, w.worker, w.worker.id, 2026, 12)
        assert (mine.visits, mine.opinions, mine.problems, mine.cases_opened, mine.notes, mine.cases_closed) == (
            4, 3, 1, 1, 1, 1)
        assert mine.visits_by_category == {"elderly_alone": 2, "disabled": 1, "member_hardship": 1}
        assert mine.opinions_by_category == {"environment": 2, "welfare": 1}
        assert (mine.households_visited, mine.days_logged, mine.patrols, mine.patrol_minutes) == (2, 2, 1, 150)
        assert (mine.entries) == 9
        head = await diary_figures.worker_month(s, SETTINGS, w.head, w.worker.id, 2026, 12)
        staff = await diary_figures.worker_month(s, SETTINGS, w.staff, w.worker.id, 2026, 12)
        assert head == staff and (head.visits, head.opinions, head.problems, head.cases_closed) == (4, 3, 1, 1)
        grid = await diary_figures.grid_month(s, SETTINGS, w.head, w.place.grids[0].id, 2026, 12, "zh-Hans")
        assert [f.worker_id for f in grid.workers if f.entries] == [w.worker.id]
        assert grid.total.visits == 4 and len(grid.workers) == 3
        november = await diary_figures.worker_month(s, SETTINGS, w.worker, w.worker.id, 2026, 11)
        assert november.visits == 1 and november.patrols == 0

        for stranger in (w.other_staff, w.other_worker, w.officer, w.admin, w.resident, w.worker2):
            with pytest.raises((NotAllowed, NotFound)):
                await diary_figures.worker_month(s, SETTINGS, stranger, w.worker.id, 2026, 12)
        with pytest.raises(NotFound):
            await diary_figures.grid_month(s, SETTINGS, w.worker, w.place.grids[0].id, 2026, 12, "en")
        with pytest.raises(NotFound):
            await diary_figures.worker_month(s, SETTINGS, w.worker, w.worker.id, 2026, 13)
        assert await s.scalar(select(Case.id).where(Case.id == case.id)) == case.id


async def test_sensitive_tags_need_the_households_recorded_consent(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        new = await diary_households.add_household(s, SETTINGS, w.head, w.place.buildings[0].id, "3-101", "孙奶奶", T0)
        card = await diary_households.household_card(s, w.head, new.id, T0.date(), "zh-Hans")
        assert card.can_manage and not card.consented
        with pytest.raises(NotAllowed, match="household_consent_needed"):
            await diary_households.cycle_tag(s, SETTINGS, w.head, new.id, CareTag.elderly_alone, T0)
        with pytest.raises(NotAllowed):  # a worker reads the ledger but does not record consent
            await diary_households.record_consent(s, w.worker, new.id, T0)
        await diary_households.record_consent(s, w.head, new.id, T0)
        assert new.sensitive_consent_by_id == w.head.id
        assert await diary_households.cycle_tag(s, SETTINGS, w.head, new.id, CareTag.elderly_alone, T0) == 7
        assert (await diary_households.household_card(s, w.head, new.id, T0.date(), "zh-Hans")).consented


async def test_a_linked_resident_sees_their_households_tags_and_nobody_else_links(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        w.resident.registered_at = T0
        await s.flush()
        options = await diary_households.linkable_residents(s, w.head, w.alone.id)
        assert [o.id for o in options] == [w.resident.id]
        with pytest.raises(NotAllowed):  # workers read the ledger, they do not link people to it
            await diary_households.link_resident(s, w.worker, w.alone.id, w.resident.id, T0)
        with pytest.raises(NotFound):  # a resident of another building
            await diary_households.link_resident(s, w.head, w.disabled.id, w.resident.id, T0)
        assert await diary_households.own_household_tags(s, w.resident) == []
        await diary_households.link_resident(s, w.head, w.alone.id, w.resident.id, T0)
        assert await diary_households.own_household_tags(s, w.resident) == [CareTag.elderly_alone]
        await diary_households.link_resident(s, w.head, w.alone.id, 0, T0)
        assert await diary_households.own_household_tags(s, w.resident) == []
