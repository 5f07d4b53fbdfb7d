"""The patrol diary's services: patrols, entries, tagging, history, permissions, problem -> case."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services.diary import cases as diary_cases
from bot.services.diary import entries as diary
from bot.services.diary import views as diary_views
from bot.services.diary.common import MediaRef
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models import (
    Case,
    CaseAttachment,
    CaseEvent,
    CaseEventType,
    CaseStatus,
    DiaryEntry,
    DiaryEntryRevision,
    DiaryMediaKind,
    EntryKind,
    OutboxKind,
    Patrol,
    PatrolEnd,
    RevisionAction,
)
from tests.factories import outbox
from tests.unit.diary.world import SETTINGS, T0, make_world

PHOTO = MediaRef(DiaryMediaKind.photo, "PHOTO-1", "u-photo-1")
VOICE = MediaRef(DiaryMediaKind.voice, "VOICE-1", "u-voice-1")


def here(lat: float = 41.70, lon: float = 125.94) -> MediaRef:
    return MediaRef(DiaryMediaKind.location, latitude=lat, longitude=lon)


async def test_patrol_with_every_kind_and_its_summary(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        b1, b2 = w.place.buildings[0], w.place.buildings[1]
        patrol, created = await diary.start_patrol(s, SETTINGS, w.worker, T0, latitude=41.7, longitude=125.94,
                                                   live_period=3600)
        assert created and patrol.grid_id == w.place.grids[0].id and patrol.live_until == T0 + timedelta(hours=1)
        again, created = await diary.start_patrol(s, SETTINGS, w.worker, T0 + timedelta(seconds=1))
        assert again.id == patrol.id and not created  # a double tap
        assert (await diary.open_patrol(s, SETTINGS, w.worker, T0)).id == patrol.id

        t = T0
        visit = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, t, household_id=w.alone.id)
        assert (visit.category, visit.building_id, visit.unit, visit.patrol_id) == (
            "elderly_alone", b1.id, "1-101", patrol.id)
        await diary.add_to_entry(s, SETTINGS, w.worker, visit.id, t, text="身体不错，提醒按时吃药", media=[PHOTO])
        unit_visit = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, t + timedelta(minutes=5),
                                              building_id=b2.id, unit="3-501", category="member_hardship")
        assert (unit_visit.unit, unit_visit.household_id, unit_visit.category) == ("3-501", None, "member_hardship")
        opinion = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, t + timedelta(minutes=9),
                                           category="environment")
        await diary.add_to_entry(s, SETTINGS, w.worker, opinion.id, t + timedelta(minutes=9), media=[VOICE])
        await diary.edit_entry(s, SETTINGS, w.worker, opinion.id, t + timedelta(minutes=10), resident_name="张阿姨")
        await diary.record_location(s, SETTINGS, w.worker, 41.71, 125.95, t + timedelta(minutes=11))
        problem = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, t + timedelta(minutes=12),
                                           text="3号楼楼道灯坏了")
        assert (problem.latitude, problem.longitude) == (41.71, 125.95)  # where the worker just was
        note = await diary.add_note(s, SETTINGS, w.worker, t + timedelta(minutes=15), text="垃圾桶满了",
                                    message_id=77)
        photo_note = await diary.add_note(s, SETTINGS, w.worker, t + timedelta(minutes=16), media=[PHOTO])
        place_note = await diary.add_note(s, SETTINGS, w.worker, t + timedelta(minutes=17), media=[here(41.72)])
        assert [e.kind for e in (note, photo_note, place_note)] == [EntryKind.note] * 3
        assert (await s.get(Patrol, patrol.id)).last_latitude == 41.72
        assert (await diary.entry_by_message(s, w.worker, 77)).id == note.id

        summary = await diary.end_patrol(s, SETTINGS, w.worker, t + timedelta(minutes=50), "zh-Hans")
        assert (summary.visits, summary.opinions, summary.problems, summary.notes, summary.entries) == (2, 1, 1, 3, 7)
        assert summary.minutes == 50 and summary.end_reason == PatrolEnd.manual
        assert summary.buildings == ["1区1号楼", "1区2号楼"]
        assert await diary.open_patrol(s, SETTINGS, w.worker, t + timedelta(minutes=51)) is None
        with pytest.raises(NotFound, match="no_patrol"):
            await diary.end_patrol(s, SETTINGS, w.worker, t + timedelta(minutes=52), "zh-Hans")
        with pytest.raises(NotFound, match="no_patrol"):
            await diary.add_note(s, SETTINGS, w.worker, t + timedelta(minutes=53), text="after the patrol")
        # Entries outside a patrol are still possible (a visit by phone, say).
        late_visit = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, t + timedelta(hours=2),
                                              household_id=w.disabled.id)
        assert late_visit.patrol_id is None

        day = await diary_views.day(s, SETTINGS, w.worker, w.worker.id, summary.started_at.astimezone(SETTINGS.tz).date(),
                                    "zh-Hans")
        assert [e.kind for e in day.entries] == [EntryKind.visit, EntryKind.visit, EntryKind.opinion,
                                                 EntryKind.problem, EntryKind.note, EntryKind.note, EntryKind.note,
                                                 EntryKind.visit]
        first = day.entries[0]
        assert (first.household, first.photos, first.text) == ("王奶奶", 1, "身体不错，提醒按时吃药")
        assert day.entries[2].resident_name == "张阿姨" and day.entries[2].voices == 1
        assert len(day.patrols) == 1


async def test_start_patrol_refusals(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        for person in (w.resident, w.staff, w.officer, w.admin):
            with pytest.raises(NotAllowed):
                await diary.start_patrol(s, SETTINGS, person, T0)
            assert await diary.open_patrol(s, SETTINGS, person, T0) is None
        with pytest.raises(NotAllowed):
            await diary.start_patrol(s, SETTINGS, w.worker, T0, grid_id=w.place.grids[2].id)
        with pytest.raises(InvalidInput, match="bad_location"):
            await diary.start_patrol(s, SETTINGS, w.worker, T0, latitude=123, longitude=0)
        # A worker of two grids says which.
        from models import Role, RoleGrant, ScopeType

        w.worker.roles.append(RoleGrant(role=Role.worker, scope_type=ScopeType.grid, scope_id=w.place.grids[1].id))
        await s.flush()
        with pytest.raises(InvalidInput, match="choose_grid"):
            await diary.start_patrol(s, SETTINGS, w.worker, T0)
        patrol, _ = await diary.start_patrol(s, SETTINGS, w.worker, T0, grid_id=w.place.grids[1].id)
        assert patrol.grid_id == w.place.grids[1].id


async def test_a_forgotten_patrol_ends_itself(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        patrol, _ = await diary.start_patrol(s, SETTINGS, w.worker, T0)
        await diary.add_note(s, SETTINGS, w.worker, T0 + timedelta(hours=1), text="last thing")
        later = T0 + timedelta(hours=SETTINGS.diary_patrol_max_hours, minutes=1)
        assert await diary.open_patrol(s, SETTINGS, w.worker, later) is None  # messages are no longer notes
        fresh, created = await diary.start_patrol(s, SETTINGS, w.worker, later)
        assert created and fresh.id != patrol.id
        old = await s.get(Patrol, patrol.id)
        assert old.end_reason == PatrolEnd.auto and old.ended_at == T0 + timedelta(hours=1)


async def test_notes_are_tagged_afterwards(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        await diary.start_patrol(s, SETTINGS, w.worker, T0)
        notes = [await diary.add_note(s, SETTINGS, w.worker, T0 + timedelta(minutes=i), text=f"note {i}")
                 for i in range(4)]
        assert w.alone.last_visit_at is None
        visit = await diary.tag_entry(s, SETTINGS, w.worker, notes[0].id, EntryKind.visit, T0 + timedelta(hours=1),
                                      household_id=w.alone.id)
        assert (visit.kind, visit.category, visit.building_id) == (EntryKind.visit, "elderly_alone",
                                                                    w.place.buildings[0].id)
        # The visit resets the household's clock: next due a week after the visit's day.
        await s.refresh(w.alone)
        assert w.alone.last_visit_at == notes[0].occurred_at
        assert w.alone.visit_due_on == notes[0].day + timedelta(days=7)
        opinion = await diary.tag_entry(s, SETTINGS, w.worker, notes[1].id, EntryKind.opinion, T0 + timedelta(hours=1),
                                        category="safety")
        assert (opinion.kind, opinion.category) == (EntryKind.opinion, "safety")
        problem = await diary.tag_entry(s, SETTINGS, w.worker, notes[2].id, EntryKind.problem, T0 + timedelta(hours=1))
        assert problem.kind == EntryKind.problem and problem.category is None
        with pytest.raises(InvalidInput, match="bad_category"):
            await diary.tag_entry(s, SETTINGS, w.worker, notes[3].id, EntryKind.opinion, T0, category="nonsense")
        with pytest.raises(InvalidInput, match="visit_needs_building"):
            await diary.tag_entry(s, SETTINGS, w.worker, notes[3].id, EntryKind.visit, T0)
        with pytest.raises(NotFound, match="household"):  # another grid's household
            await diary.tag_entry(s, SETTINGS, w.worker, notes[3].id, EntryKind.visit, T0, household_id=w.elsewhere.id)
        with pytest.raises(NotFound, match="building"):
            await diary.tag_entry(s, SETTINGS, w.worker, notes[3].id, EntryKind.visit, T0,
                                  building_id=w.place.buildings[4].id)
        # Re-tagging the visit as something else gives the household its old clock back.
        await diary.tag_entry(s, SETTINGS, w.worker, visit.id, EntryKind.problem, T0 + timedelta(hours=2))
        await s.refresh(w.alone)
        assert w.alone.last_visit_at is None


async def test_edits_never_overwrite_and_the_edit_window(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        entry = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, T0, category="property",
                                         text="电梯经常坏")
        await diary.add_to_entry(s, SETTINGS, w.worker, entry.id, T0 + timedelta(minutes=1), text="已经三次了")
        await diary.edit_entry(s, SETTINGS, w.worker, entry.id, T0 + timedelta(hours=3), text="电梯本月坏了三次")
        await diary.edit_entry(s, SETTINGS, w.worker, entry.id, T0 + timedelta(hours=3), text="电梯本月坏了三次")
        next_day = T0 + timedelta(days=1)
        await diary.edit_entry(s, SETTINGS, w.worker, entry.id, next_day, category="safety")
        with pytest.raises(Conflict, match="delete_same_day"):
            await diary.delete_entry(s, SETTINGS, w.worker, entry.id, next_day)
        with pytest.raises(Conflict, match="entry_locked"):
            await diary.edit_entry(s, SETTINGS, w.worker, entry.id, T0 + timedelta(days=8), text="too late")

        history = await diary_views.history(s, w.worker, entry.id)
        assert [(r.version, r.action, r.late) for r in history] == [
            (1, RevisionAction.created, False), (2, RevisionAction.added, False), (3, RevisionAction.edited, False),
            (4, RevisionAction.edited, True)]  # the unchanged second edit wrote nothing
        assert [r.snapshot["text"] for r in history] == ["电梯经常坏", "电梯经常坏\n已经三次了", "电梯本月坏了三次",
                                                         "电梯本月坏了三次"]
        assert history[-1].snapshot["category"] == "safety"
        view, rights = await diary_views.entry(s, SETTINGS, w.worker, entry.id, "en", next_day)
        assert view.corrected_later and rights.edit and not rights.delete and rights.late

        same_day = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, next_day, text="井盖松动")
        await diary.delete_entry(s, SETTINGS, w.worker, same_day.id, next_day + timedelta(hours=1))
        with pytest.raises(Conflict, match="entry_deleted"):
            await diary.edit_entry(s, SETTINGS, w.worker, same_day.id, next_day + timedelta(hours=1), text="x")
        row = await s.get(DiaryEntry, same_day.id)
        assert row.deleted_at is not None and row.text == "井盖松动"  # kept, marked
        revisions = list(await s.scalars(select(DiaryEntryRevision).where(DiaryEntryRevision.entry_id == same_day.id)))
        assert [r.action for r in revisions] == [RevisionAction.created, RevisionAction.deleted]
        assert revisions[-1].snapshot["deleted"] is True

        # The author sees a deleted entry in their day (marked); others do not.
        mine = await diary_views.day(s, SETTINGS, w.worker, w.worker.id, row.day, "zh-Hans")
        theirs = await diary_views.day(s, SETTINGS, w.head, w.worker.id, row.day, "zh-Hans")
        assert [e.deleted for e in mine.entries] == [True] and theirs.entries == []

        for bad in ("", "   "):
            with pytest.raises(InvalidInput, match="empty_text"):
                await diary.edit_entry(s, SETTINGS, w.worker, entry.id, next_day, text=bad)
        with pytest.raises(InvalidInput, match="text_too_long"):
            await diary.add_to_entry(s, SETTINGS, w.worker, entry.id, next_day, text="长" * 3001)
        with pytest.raises(InvalidInput, match="not_opinion"):
            problem = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, next_day, text="x")
            await diary.edit_entry(s, SETTINGS, w.worker, problem.id, next_day, resident_name="张")


async def test_who_sees_and_who_changes_an_entry(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        entry = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.visit, T0, household_id=w.alone.id,
                                         text="ok")
        day = entry.day
        # Readers: the author, the grid head of the grid, staff of the community.
        for reader in (w.worker, w.head, w.staff):
            view, rights = await diary_views.entry(s, SETTINGS, reader, entry.id, "zh-Hans", T0)
            assert view.id == entry.id
            assert rights.edit == (reader is w.worker)
            assert [e.id for e in (await diary_views.day(s, SETTINGS, reader, w.worker.id, day, "zh-Hans")).entries] \
                == [entry.id]
        # Nobody else, and a hidden entry looks like a missing one.
        for stranger in (w.worker2, w.other_worker, w.other_staff, w.officer, w.admin, w.resident):
            with pytest.raises(NotFound, match="entry"):
                await diary_views.entry(s, SETTINGS, stranger, entry.id, "zh-Hans", T0)
            with pytest.raises(NotFound, match="entry"):
                await diary_views.history(s, stranger, entry.id)
            with pytest.raises(NotFound, match="entry"):
                await diary.edit_entry(s, SETTINGS, stranger, entry.id, T0, text="forged")
            with pytest.raises(NotFound, match="entry"):
                await diary.delete_entry(s, SETTINGS, stranger, entry.id, T0)
        with pytest.raises(NotFound):
            await diary_views.entry(s, SETTINGS, w.worker, 999999, "zh-Hans", T0)
        # Readers who are not the author may not change it.
        for reader in (w.head, w.staff):
            with pytest.raises(NotAllowed):
                await diary.edit_entry(s, SETTINGS, reader, entry.id, T0, text="forged")
            with pytest.raises(NotAllowed):
                await diary.tag_entry(s, SETTINGS, reader, entry.id, EntryKind.problem, T0)
            with pytest.raises(NotAllowed):
                await diary_cases.open_case(s, SETTINGS, reader, entry.id, T0)
        # Day views of someone else's worker are refused.
        with pytest.raises((NotAllowed, NotFound)):
            await diary_views.day(s, SETTINGS, w.other_staff, w.worker.id, day, "zh-Hans")
        with pytest.raises(NotAllowed):
            await diary_views.day(s, SETTINGS, w.worker2, w.worker.id, day, "zh-Hans")
        with pytest.raises(NotFound):
            await diary_views.day(s, SETTINGS, w.head, w.other_worker.id, day, "zh-Hans")
        with pytest.raises(NotFound):
            await diary_views.grid_day(s, SETTINGS, w.other_staff, w.place.grids[0].id, day, "zh-Hans")
        with pytest.raises(NotFound):
            await diary_views.community_day(s, w.head, w.place.communities[0].id, day, "zh-Hans")
        grid = await diary_views.grid_day(s, SETTINGS, w.head, w.place.grids[0].id, day, "zh-Hans")
        assert {(line.worker_id, line.entries) for line in grid.workers} == {
            (w.worker.id, 1), (w.worker2.id, 0), (w.head.id, 0)}
        community = await diary_views.community_day(s, w.staff, w.place.communities[0].id, day, "zh-Hans")
        assert [(g.entries, g.workers_logged, g.workers) for g in community.grids] == [(1, 1, 3), (0, 0, 0)]


async def test_problem_becomes_a_case_linked_both_ways(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        await diary.start_patrol(s, SETTINGS, w.worker, T0)
        empty = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, T0)
        with pytest.raises(InvalidInput, match="problem_empty"):
            await diary_cases.open_case(s, SETTINGS, w.worker, empty.id, T0)
        problem = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, T0, text="路灯不亮",
                                           media=[PHOTO, here(41.705, 125.941)])
        case = await diary_cases.open_case(s, SETTINGS, w.worker, problem.id, T0 + timedelta(minutes=1))
        await s.commit()

        # Issue 20: the worker who found it owns it at once, with its place.
        assert (case.status, case.owner_id, case.number) == (CaseStatus.accepted, w.worker.id, "D1-2026-000001")
        assert (case.grid_id, case.community_id, case.resident_id) == (w.place.grids[0].id,
                                                                       w.place.communities[0].id, w.worker.id)
        assert (case.description, case.latitude, case.longitude) == ("路灯不亮", 41.705, 125.941)
        assert case.accept_due_at is not None and case.resolve_due_at > case.accept_due_at
        event = await s.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id))
        assert event.type == CaseEventType.submitted
        assert (event.data["source"], event.data["diary_entry"]) == ("diary", problem.id)
        files = list(await s.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)))
        assert sorted(f.kind.value for f in files) == ["location", "photo"]
        # Both ways: the entry knows its case, the case finds its entry.
        assert (await s.get(DiaryEntry, problem.id)).case_id == case.id
        assert (await diary_cases.entry_for_case(s, w.head, case.id)).id == problem.id
        assert await diary_cases.entry_for_case(s, w.other_staff, case.id) is None
        view, _ = await diary_views.entry(s, SETTINGS, w.worker, problem.id, "zh-Hans", T0)
        assert view.case_number == case.number
        # Nobody is asked to accept it (it is his), and he gets no resident's texts about it.
        assert [r for r in await outbox(s) if r.kind == OutboxKind.case_update] == []
        history = await diary_views.history(s, w.worker, problem.id)
        assert history[-1].action == RevisionAction.case_opened and history[-1].snapshot["case_id"] == case.id

        with pytest.raises(Conflict, match="case_exists"):
            await diary_cases.open_case(s, SETTINGS, w.worker, problem.id, T0)
        with pytest.raises(Conflict, match="has_case"):
            await diary.delete_entry(s, SETTINGS, w.worker, problem.id, T0)
        with pytest.raises(Conflict, match="has_case"):
            await diary.tag_entry(s, SETTINGS, w.worker, problem.id, EntryKind.opinion, T0, category="other")
        opinion = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, T0, text="x")
        with pytest.raises(InvalidInput, match="not_problem"):
            await diary_cases.open_case(s, SETTINGS, w.worker, opinion.id, T0)
        assert await s.scalar(select(Case.id).where(Case.id != case.id)) is None


async def test_input_limits(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        with pytest.raises(InvalidInput, match="text_too_long"):
            await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, T0, text="x" * 3001)
        with pytest.raises(InvalidInput, match="bad_place"):
            await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, T0, building_id=w.place.buildings[0].id)
        with pytest.raises(InvalidInput, match="text_too_long"):
            await diary.create_entry(s, SETTINGS, w.worker, EntryKind.opinion, T0, resident_name="名" * 65)
        with pytest.raises(InvalidInput, match="bad_location"):
            await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, T0, media=[here(99, 0)])
        entry = await diary.create_entry(s, SETTINGS, w.worker, EntryKind.problem, T0, text="x")
        with pytest.raises(InvalidInput, match="too_many_files"):
            await diary.add_to_entry(s, SETTINGS, w.worker, entry.id, T0, media=[PHOTO] * 21)
        with pytest.raises(InvalidInput, match="empty_text"):
            await diary.add_to_entry(s, SETTINGS, w.worker, entry.id, T0, text="  ")
        with pytest.raises(InvalidInput, match="bad_kind"):
            await diary.tag_entry(s, SETTINGS, w.worker, entry.id, EntryKind.note, T0)
