"""Intake: drafts, sending, numbers, deadlines, duplicates and the notifications it writes."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.services import cases, homes
from bot.services.cases.common import next_number
from bot.services.dates import parse_date
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.l10n import translator
from models import (
    AttachmentKind,
    Case,
    CaseAttachment,
    CaseEventType,
    CaseFollower,
    CaseKind,
    CaseStatus,
    OutboxKind,
)
from tests.factories import outbox
from tests.unit.cases.world import (
    SETTINGS,
    T0,
    buttons,
    events,
    make_world,
    photo,
    sent_case,
    voice,
)


async def test_draft_collects_everything_and_send_numbers_routes_and_notifies(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        draft = await cases.start_draft(s, w.resident, kind=CaseKind.proxy, service_id=w.proxy_item.id, now=T0)
        assert draft.number is None and draft.status == CaseStatus.draft
        await cases.add_text(s, w.resident, draft.id, "需要开居住证明", "zh-Hans")
        await cases.add_file(s, w.resident, draft.id, photo(1), "zh-Hans", T0)
        await cases.add_file(s, w.resident, draft.id, voice(1), "zh-Hans", T0)
        summary = await cases.add_location(s, w.resident, draft.id, 41.7, 125.9, "zh-Hans", T0)
        assert (summary.photos, summary.voices, summary.locations, summary.service) == (1, 1, 1, "居住证明")
        # Nothing goes out while it is a draft.
        assert await outbox(s) == []
        with pytest.raises(InvalidInput, match="authorisation_missing"):
            await cases.submit(s, SETTINGS, w.resident, draft.id, T0)
        await cases.set_needed_by(s, w.resident, draft.id, date(2026, 12, 10), date(2026, 12, 1))
        await cases.set_authorisation(s, w.resident, draft.id, "代我去派出所开证明")
        case = await cases.submit(s, SETTINGS, w.resident, draft.id, T0)
        await s.commit()

        assert case.number == "D1-2026-000001"
        assert case.status == CaseStatus.new and case.grid_id == w.place.grids[0].id
        # 4 working hours from Tuesday 09:00: 09:00-12:00 (3 h) + 13:30-14:30 (1 h)
        assert case.accept_due_at.astimezone(SETTINGS.tz).strftime("%a %H:%M") == "Tue 14:30"
        # 16 working hours: Tuesday from 09:00 has 7 h, Wednesday 7.5 h; Thursday 08:30 + 1.5 h
        assert case.resolve_due_at.astimezone(SETTINGS.tz).strftime("%a %H:%M") == "Thu 10:00"
        event = (await events(s, case.id))[0]
        assert event.type == CaseEventType.submitted and event.data["authorisation"] == "代我去派出所开证明"
        assert event.data["needed_by"] == "2026-12-10"
        files = list(await s.scalars(select(CaseAttachment).where(CaseAttachment.case_id == case.id)))
        assert {f.kind for f in files} == {AttachmentKind.photo, AttachmentKind.voice, AttachmentKind.location}
        assert all(f.event_id == event.id for f in files)
        assert files[0].file_unique_id == "uniq-photo-1"

        # Every worker and the grid head of the grid got it with Accept; nobody else.
        rows = await outbox(s)
        assert {r.user_id for r in rows} == {w.worker.id, w.worker2.id, w.head.id}
        assert all(r.kind == OutboxKind.case_update for r in rows)
        en = next(r for r in rows if r.user_id == w.worker2.id)
        assert "New case D1-2026-000001" in en.payload["text"] and "Proof of residence" in en.payload["text"]
        assert buttons(en) == [f"cs:acc:{case.id}:0", f"cs:view:{case.id}:0"]
        zh = next(r for r in rows if r.user_id == w.worker.id)
        assert zh.payload["text"].startswith(translator("zh-Hans")("🆕 New case {number}").format(number=case.number))
        assert "居住证明" in zh.payload["text"]


async def test_double_send_and_foreign_drafts_are_refused(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        draft = await cases.start_draft(s, w.resident, kind=CaseKind.request, service_id=None, now=T0)
        with pytest.raises(InvalidInput, match="draft_empty"):
            await cases.submit(s, SETTINGS, w.resident, draft.id, T0)
        await cases.add_text(s, w.resident, draft.id, "院子里的路灯不亮", "zh-Hans")
        with pytest.raises(NotFound):
            await cases.add_text(s, w.neighbour, draft.id, "hijack", "en")
        with pytest.raises(NotFound):
            await cases.submit(s, SETTINGS, w.neighbour, draft.id, T0)
        case = await cases.submit(s, SETTINGS, w.resident, draft.id, T0)
        with pytest.raises(Conflict, match="already_sent"):
            await cases.submit(s, SETTINGS, w.resident, draft.id, T0)
        with pytest.raises(Conflict):
            await cases.add_text(s, w.resident, draft.id, "more", "zh-Hans")
        # Free requests use the default limits (4 h to accept).
        assert case.accept_due_at.astimezone(SETTINGS.tz).strftime("%H:%M") == "14:30"
        # Workers cannot see a draft.
        other = await cases.start_draft(s, w.resident, kind=CaseKind.request, service_id=None, now=T0)
        with pytest.raises(NotFound):
            await cases.view(s, w.worker, other.id, "en", T0)


async def test_bad_input_is_refused_clearly(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        with pytest.raises(NotFound):
            await cases.start_draft(s, w.resident, kind=CaseKind.proxy, service_id=w.report_item.id, now=T0)
        with pytest.raises(NotFound):
            await cases.start_draft(s, w.resident, kind=CaseKind.report, service_id=999999, now=T0)
        w.worker.building_id = None
        with pytest.raises(NotAllowed, match="no_home"):
            await cases.start_draft(s, w.worker, kind=CaseKind.request, service_id=None, now=T0)
        draft = await cases.start_draft(s, w.resident, kind=CaseKind.proxy, service_id=w.proxy_item.id, now=T0)
        with pytest.raises(InvalidInput, match="text_too_long"):
            await cases.add_text(s, w.resident, draft.id, "长" * 3001, "zh-Hans")
        with pytest.raises(InvalidInput, match="empty_text"):
            await cases.add_text(s, w.resident, draft.id, "   ", "zh-Hans")
        with pytest.raises(InvalidInput, match="date_in_past"):
            await cases.set_needed_by(s, w.resident, draft.id, date(2026, 11, 30), date(2026, 12, 1))
        with pytest.raises(InvalidInput, match="bad_location"):
            await cases.add_location(s, w.resident, draft.id, 91, 0, "en", T0)
        for n in range(20):
            await cases.add_file(s, w.resident, draft.id, photo(n), "en", T0)
        with pytest.raises(InvalidInput, match="too_many_files"):
            await cases.add_file(s, w.resident, draft.id, photo(99), "en", T0)
    today = date(2026, 12, 1)
    assert parse_date("2026-12-24", today) == date(2026, 12, 24)
    assert parse_date("12月24日", today) == date(2026, 12, 24)
    assert parse_date("12/5", today) == date(2026, 12, 5)
    for bad in ("tomorrow", "2026-13-01", "02-30"):
        with pytest.raises(InvalidInput, match="bad_date"):
            parse_date(bad, today)


async def test_similar_case_in_the_building_can_be_followed(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        first = await sent_case(s, w, text="3单元楼道灯不亮")
        later = T0 + timedelta(days=2)
        draft = await cases.start_draft(s, w.neighbour, kind=CaseKind.report, service_id=w.report_item.id, now=later)
        await cases.add_text(s, w.neighbour, draft.id, "楼道太黑了", "en")
        await cases.add_file(s, w.neighbour, draft.id, photo(7), "en", later)
        # A claimed home shows nothing of the neighbours (issue 16); a worker of the grid confirms it.
        assert await cases.similar_cases(s, w.neighbour, draft.id, later, locale="en") == []
        await homes.confirm(s, SETTINGS, w.worker, w.neighbour.id, later)
        similar = await cases.similar_cases(s, w.neighbour, draft.id, later, locale="en")
        assert [c.number for c in similar] == [first.number]
        # By number, category and status only: nothing of what the other resident wrote.
        assert similar[0].category == "Repair" and "楼道灯" not in repr(similar)
        # Not offered after 7 days, nor for another building.
        assert await cases.similar_cases(s, w.neighbour, draft.id, T0 + timedelta(days=8), locale="en") == []
        with pytest.raises(NotFound):
            await cases.follow_instead(s, SETTINGS, w.neighbour, draft.id, 424242, later)
        followed = await cases.follow_instead(s, SETTINGS, w.neighbour, draft.id, first.id, later)
        assert followed.id == first.id
        assert await s.get(Case, draft.id) is None
        assert await s.scalar(select(CaseFollower.user_id).where(CaseFollower.case_id == first.id)) == w.neighbour.id
        moved = list(await s.scalars(select(CaseAttachment).where(CaseAttachment.file_id == "PHOTO-7")))
        assert moved[0].case_id == first.id and moved[0].public is False
        mine = await cases.my_cases(s, w.neighbour, "en", later)
        assert [(b.number, b.following) for b in mine] == [(first.number, True)]
        # The follower can read the case but not act on it, nor see the reporter's notes.
        v = await cases.view(s, w.neighbour, first.id, "en", later)
        assert all(e.note is None for e in v.timeline) and "ok" not in v.actions and "chat" not in v.actions
        with pytest.raises(NotAllowed):
            await cases.confirm(s, SETTINGS, w.neighbour, first.id, later)
        # Nor anything the reporter wrote or sent (issue 16): status only.
        assert "楼道灯" not in v.title and v.description is None and v.attachments == 0 and not v.escalations
        assert {e.type for e in v.timeline} <= {CaseEventType.submitted}
        assert await cases.attachments(s, w.neighbour, first.id) == []
        assert "3单元" not in mine[0].title
        # Told of status changes only: accepted and resolved, by number and status.
        await cases.accept(s, SETTINGS, w.worker, first.id, later)
        await cases.resolve(s, SETTINGS, w.worker, first.id, "换了灯泡，3单元已修好", None, later)
        told = [m.payload["text"] for m in await outbox(s, w.neighbour) if not m.dedupe_key.startswith("home:")]
        assert len(told) == 2 and all(first.number in t and "3单元" not in t and "灯泡" not in t for t in told)
        v = await cases.view(s, w.neighbour, first.id, "en", later)
        assert v.resolution is None and [e.type for e in v.timeline] == [
            CaseEventType.submitted, CaseEventType.accepted, CaseEventType.resolved]


async def test_numbers_are_per_district_and_year_and_unique_under_concurrency(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        community_id = w.place.communities[0].id
        await s.commit()

    async def take() -> str:
        async with sessionmaker() as s:
            number = await next_number(s, community_id, 2026)
            await asyncio.sleep(0)  # let the others run into the lock
            await s.commit()
            return number

    numbers = await asyncio.gather(*(take() for _ in range(12)))
    assert sorted(numbers) == [f"D1-2026-{n:06d}" for n in range(1, 13)]
    async with sessionmaker() as s:
        assert await next_number(s, community_id, 2027) == "D1-2027-000001"
        assert await next_number(s, community_id, 2026) == "D1-2026-000013"


async def test_a_problem_found_on_patrol_is_opened_for_the_grid(sessionmaker):
    from bot.services.cases.intake import FoundFile, open_found_problem

    async with sessionmaker() as s:
        w = await make_world(s)
        grid = w.place.grids[0]
        found = [FoundFile(AttachmentKind.photo, "PHOTO-9", "uniq-9"),
                 FoundFile(AttachmentKind.location, latitude=41.7, longitude=125.9)]
        case = await open_found_problem(
            s, SETTINGS, w.worker, grid_id=grid.id, building_id=w.place.buildings[0].id,
            description="井盖松动", latitude=41.7, longitude=125.9, files=found, now=T0,
            source={"source": "diary", "diary_entry": 7})
        await s.commit()
        # Issue 20: the worker who found it owns it at once, with its place; a colleague checks the fix.
        assert (case.kind, case.status, case.grid_id, case.resident_id, case.owner_id) == (
            CaseKind.report, CaseStatus.accepted, grid.id, w.worker.id, w.worker.id)
        assert case.building_id == w.place.buildings[0].id and (case.latitude, case.longitude) == (41.7, 125.9)
        assert case.number == "D1-2026-000001" and case.accept_due_at > T0
        timeline = await events(s, case.id)
        assert [e.type for e in timeline] == [CaseEventType.submitted, CaseEventType.accepted]
        assert timeline[0].data["diary_entry"] == 7
        kinds = list(await s.scalars(select(CaseAttachment.kind).where(CaseAttachment.case_id == case.id)
                                     .order_by(CaseAttachment.id)))
        assert kinds == [AttachmentKind.photo, AttachmentKind.location]
        # Nobody is asked to accept it, and its finder gets no resident's texts.
        assert await outbox(s) == []
        v = await cases.view(s, w.worker, case.id, "en", T0)
        assert {"res", "start"} <= set(v.actions) and "acc" not in v.actions

        # Staff of the community may (and leave it to the grid's workers, asked to accept it); a worker of another grid, a resident or an
        # officer may not; nothing at all is not a problem report.
        lamp = await open_found_problem(s, SETTINGS, w.staff, grid_id=grid.id, building_id=None,
                                        description="路灯不亮", latitude=None, longitude=None, files=[], now=T0,
                                        source={})
        assert lamp.status == CaseStatus.new and lamp.owner_id is None
        assert {m.user_id for m in await outbox(s)} >= {w.worker.id, w.worker2.id}
        for outsider in (w.other_worker, w.resident, w.officer, w.other_staff):
            with pytest.raises(NotAllowed):
                await open_found_problem(s, SETTINGS, outsider, grid_id=grid.id, building_id=None,
                                         description="x", latitude=None, longitude=None, files=[], now=T0,
                                         source={})
        with pytest.raises(InvalidInput, match="draft_empty"):
            await open_found_problem(s, SETTINGS, w.worker, grid_id=grid.id, building_id=None, description="",
                                     latitude=None, longitude=None, files=[], now=T0, source={})
