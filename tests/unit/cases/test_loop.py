"""The loop: accept (and its race), relay, resolve, confirm / reopen, auto-close,
rating, permissions on every action, and the figures computed from events."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.services import cases
from bot.services.cases.figures import figures
from bot.services.errors import Conflict, DomainError, InvalidInput, NotAllowed, NotFound
from models import (
    Case,
    CaseEventType,
    CaseKind,
    CaseStatus,
    CloseReason,
    HandoverDirection,
    OutboxMessage,
    User,
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


async def test_accept_race_has_one_winner(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w)
        await s.commit()

    async def press(user_id: int):  # type: ignore[no-untyped-def]
        async with sessionmaker() as s:
            user = await s.get(User, user_id)
            try:
                await cases.accept(s, SETTINGS, user, case.id, T0 + timedelta(minutes=5))
            except DomainError as err:
                await s.rollback()
                return err.code
            await s.commit()
            return "won"

    results = await asyncio.gather(press(w.worker.id), press(w.worker2.id), press(w.head.id))
    assert sorted(results) == ["case_taken", "case_taken", "won"]
    async with sessionmaker() as s:
        fresh = await s.get(Case, case.id)
        assert fresh.status == CaseStatus.accepted and fresh.owner_id is not None
        assert len(await events(s, case.id, CaseEventType.accepted)) == 1
        owner = await s.get(User, fresh.owner_id)
        with pytest.raises(Conflict, match="already_yours"):
            await cases.accept(s, SETTINGS, owner, case.id, T0)


async def test_permissions_on_every_action(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w, kind=CaseKind.proxy)
        # Someone else's case looks like no case at all.
        for outsider in (w.stranger, w.neighbour, w.other_worker, w.other_staff, w.officer):
            with pytest.raises(NotFound):
                await cases.view(s, outsider, case.id, "en", T0)
        for outsider in (w.stranger, w.other_worker, w.officer):
            with pytest.raises(NotFound):
                await cases.accept(s, SETTINGS, outsider, case.id, T0)
        # The resident and the staff of the community may see but not accept.
        with pytest.raises(NotAllowed):
            await cases.accept(s, SETTINGS, w.resident, case.id, T0)
        with pytest.raises(NotAllowed):
            await cases.accept(s, SETTINGS, w.staff, case.id, T0)
        await cases.view(s, w.staff, case.id, "en", T0)
        await cases.accept(s, SETTINGS, w.worker, case.id, T0)
        # Only the owner handles it.
        with pytest.raises(NotAllowed):
            await cases.resolve(s, SETTINGS, w.worker2, case.id, "done", None, T0)
        with pytest.raises(NotAllowed):
            await cases.send_message(s, SETTINGS, w.worker2, case.id, text="hi", now=T0)
        with pytest.raises(NotAllowed):
            await cases.log_handover(s, SETTINGS, w.head, case.id, HandoverDirection.to_worker, "ID", None, T0)
        with pytest.raises(NotAllowed):
            await cases.call_department(s, SETTINGS, w.staff, case.id, w.place.department.id, "help", T0)
        # Residents cannot do the worker's part, workers cannot do the resident's.
        with pytest.raises(NotAllowed):
            await cases.resolve(s, SETTINGS, w.resident, case.id, "done", None, T0)
        with pytest.raises(NotAllowed):
            await cases.add_note(s, SETTINGS, w.resident, case.id, text="secret", now=T0)
        await cases.resolve(s, SETTINGS, w.worker, case.id, "done", None, T0)
        with pytest.raises(NotAllowed):
            await cases.confirm(s, SETTINGS, w.worker, case.id, T0)
        with pytest.raises(NotFound):
            await cases.confirm(s, SETTINGS, w.stranger, case.id, T0)
        with pytest.raises(NotFound):
            await cases.acknowledge_escalation(s, SETTINGS, w.officer, 424242, T0)


async def test_relay_both_ways_masks_identities(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w, kind=CaseKind.proxy)
        # Before anyone accepts, the resident's message is kept on the case only.
        early = await cases.send_message(s, SETTINGS, w.resident, case.id, text="我下午在家", now=T0)
        assert early.to is None
        await cases.accept(s, SETTINGS, w.worker, case.id, T0)
        before = len(await outbox(s))
        to_worker = await cases.send_message(s, SETTINGS, w.resident, case.id, file=photo(3), now=T0)
        assert to_worker.to == "worker"
        row = (await outbox(s))[before]
        assert row.user_id == w.worker.id and row.payload["photo"] == "PHOTO-3"
        assert buttons(row)[0] == f"cs:chat:{case.id}:0"
        await cases.send_message(s, SETTINGS, w.worker, case.id, file=voice(2), now=T0)
        await cases.send_message(s, SETTINGS, w.worker, case.id, location=(41.7, 125.9), now=T0)
        to_resident = await cases.send_message(s, SETTINGS, w.worker, case.id, text="我三点到", now=T0)
        assert to_resident.to == "resident"
        mine = await outbox(s, w.resident)
        assert [m.payload.get("voice") for m in mine if "voice" in m.payload] == ["VOICE-2"]
        assert any(m.payload.get("location") == {"latitude": 41.7, "longitude": 125.9} for m in mine)
        # The resident never reads the worker's phone; the worker's given name only in the notice
        # that the case was accepted (issue 20: she learns who her worker is), never on a relay.
        named = [m.payload["text"] for m in mine if w.worker.first_name in m.payload["text"]]
        assert len(named) == 1 and named[0].startswith("👷")
        assert all("+86" not in m.payload["text"] for m in mine)
        # The worker sees the phone while owning the case; a colleague does not.
        assert (await cases.view(s, w.worker, case.id, "en", T0)).resident_phone == w.resident.phone
        assert (await cases.view(s, w.worker2, case.id, "en", T0)).resident_phone is None
        resident_view = await cases.view(s, w.resident, case.id, "zh-Hans", T0)
        # Her own case: her worker's given name (issue 20), never her own on the worker side fields.
        assert resident_view.owner_name == w.worker.first_name and resident_view.resident_name is None
        # Internal notes never reach the resident.
        await cases.add_note(s, SETTINGS, w.staff, case.id, text="注意老人行动不便", now=T0)
        resident_view = await cases.view(s, w.resident, case.id, "zh-Hans", T0)
        assert CaseEventType.note not in {e.type for e in resident_view.timeline}
        assert any("注意老人行动不便" in m.payload["text"] for m in await outbox(s, w.worker))
        with pytest.raises(InvalidInput):
            await cases.send_message(s, SETTINGS, w.worker, case.id, text="x" * 2001, now=T0)


async def test_full_loop_confirm_rate_and_figures(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w, kind=CaseKind.proxy)
        await cases.accept(s, SETTINGS, w.worker, case.id, T0 + timedelta(minutes=30))
        await cases.start_work(s, SETTINGS, w.worker, case.id, T0 + timedelta(hours=1))
        with pytest.raises(Conflict):
            await cases.start_work(s, SETTINGS, w.worker, case.id, T0 + timedelta(hours=1))
        await cases.log_handover(s, SETTINGS, w.worker, case.id, HandoverDirection.to_worker, "身份证复印件", photo(5),
                                 T0 + timedelta(hours=1))
        await cases.log_handover(s, SETTINGS, w.worker, case.id, HandoverDirection.to_resident, "居住证明原件", None,
                                 T0 + timedelta(hours=3))
        await cases.resolve(s, SETTINGS, w.worker, case.id, "证明已办好并交还", photo(6), T0 + timedelta(hours=3))
        ask = (await outbox(s, w.resident))[-1]
        assert ask.payload["photo"] == "PHOTO-6"
        assert buttons(ask) == [f"cs:ok:{case.id}:0", f"cs:nok:{case.id}:0"]
        assert "身份证复印件" in ask.payload["text"] and "居住证明原件" in ask.payload["text"]
        with pytest.raises(Conflict):
            await cases.rate(s, SETTINGS, w.resident, case.id, 5, T0)
        await cases.confirm(s, SETTINGS, w.resident, case.id, T0 + timedelta(hours=4))
        with pytest.raises(Conflict):
            await cases.confirm(s, SETTINGS, w.resident, case.id, T0 + timedelta(hours=4))
        with pytest.raises(InvalidInput):
            await cases.rate(s, SETTINGS, w.resident, case.id, 6, T0)
        await cases.rate(s, SETTINGS, w.resident, case.id, 5, T0 + timedelta(hours=4))
        with pytest.raises(Conflict, match="already_rated"):
            await cases.rate(s, SETTINGS, w.resident, case.id, 1, T0 + timedelta(hours=4))
        await cases.comment_rating(s, SETTINGS, w.resident, case.id, "很及时", T0 + timedelta(hours=4))
        assert case.status == CaseStatus.closed and case.close_reason == CloseReason.confirmed
        types = [e.type for e in (await cases.view(s, w.worker, case.id, "en", T0, timeline_limit=50)).timeline]
        assert types == [CaseEventType.submitted, CaseEventType.accepted, CaseEventType.started,
                         CaseEventType.handover, CaseEventType.handover, CaseEventType.resolved,
                         CaseEventType.confirmed, CaseEventType.rated]
        (confirmed,) = await events(s, case.id, CaseEventType.confirmed)
        assert confirmed.data == {"sign_off": True}
        owner_msgs = [m.payload["text"] for m in await outbox(s, w.worker)]
        assert any("5/5" in t for t in owner_msgs) and any("很及时" in t for t in owner_msgs)

        # A second case: not solved → reopened (rework), then solved late and closed automatically.
        second = await sent_case(s, w, text="水管漏水", now=T0 + timedelta(days=1))
        await cases.accept(s, SETTINGS, w.worker2, second.id, T0 + timedelta(days=1, hours=5))  # late
        await cases.resolve(s, SETTINGS, w.worker2, second.id, "修好了", None, T0 + timedelta(days=1, hours=6))
        await cases.reopen(s, SETTINGS, w.resident, second.id, T0 + timedelta(days=1, hours=7))
        assert second.status == CaseStatus.reopened and second.reopen_count == 1
        assert "NOT solved" in (await outbox(s, w.worker2))[-1].payload["text"]
        # The new deadline is Thursday 16:30 (8 working hours from Wednesday 16:00): Friday is late.
        await cases.resolve(s, SETTINGS, w.worker2, second.id, "换了新管子", None, T0 + timedelta(days=3))
        assert await cases.auto_close_due(s, SETTINGS, T0 + timedelta(days=5, hours=23)) == 0
        assert await cases.auto_close_due(s, SETTINGS, T0 + timedelta(days=6, hours=1)) == 1
        assert second.close_reason == CloseReason.auto
        assert buttons((await outbox(s, w.resident))[-1]) == [f"cs:rate:{second.id}:{n}" for n in (5, 4, 3, 2, 1)]
        await cases.rate(s, SETTINGS, w.resident, second.id, 3, T0 + timedelta(days=6, hours=2))

        third = await sent_case(s, w, text="不用了", now=T0 + timedelta(days=1))
        await cases.withdraw(s, SETTINGS, w.resident, third.id, T0 + timedelta(days=1, minutes=5))
        with pytest.raises(Conflict):
            await cases.rate(s, SETTINGS, w.resident, third.id, 4, T0 + timedelta(days=2))
        await s.commit()

        f = await figures(s, since=T0 - timedelta(days=1), until=T0 + timedelta(days=10))
        assert (f.sent, f.withdrawn, f.completed, f.completed_confirmed, f.completed_auto) == (3, 1, 2, 1, 1)
        assert f.completion_rate == 1.0
        assert (f.resolved, f.reworked, f.rework_rate) == (2, 1, 0.5)
        assert (f.on_time, f.on_time_rate) == (1, 0.5)  # the second was finally resolved after its deadline
        assert (f.ratings, f.satisfaction_mean, f.satisfied_share) == (2, 4, 0.5)
        assert f.accept_seconds_median == (30 * 60 + 5 * 3600) / 2
        scoped = await figures(s, since=T0 - timedelta(days=1), until=T0 + timedelta(days=10),
                               grid_id=w.place.grids[1].id)
        assert scoped.sent == 0 and scoped.completion_rate is None


async def test_resident_list_and_worker_inbox_overdue_first(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        old = await sent_case(s, w, text="旧的", now=T0)
        new = await sent_case(s, w, text="新的", now=T0 + timedelta(hours=2))
        other = await sent_case(s, w, text="别的网格", resident=w.stranger)
        emergency = await sent_case(s, w, text="煤气味", now=T0 + timedelta(hours=3), emergency=True)
        await cases.accept(s, SETTINGS, w.worker, new.id, T0 + timedelta(hours=2))
        now = T0 + timedelta(hours=6)  # the old one is past its 2 h acceptance limit
        items, total = await cases.inbox(s, w.worker2, "en", now)
        assert total == 3 and [b.id for b in items] == [emergency.id, old.id, new.id]
        assert items[1].overdue and not items[2].overdue and items[2].mine is False
        assert [b.id for b in (await cases.inbox(s, w.worker, "en", now))[0]][2] == new.id
        assert (await cases.inbox(s, w.worker, "en", now))[0][2].mine
        staff_items, staff_total = await cases.inbox(s, w.staff, "en", now)
        assert staff_total == 3 and other.id not in [b.id for b in staff_items]
        with pytest.raises(NotAllowed):
            await cases.inbox(s, w.resident, "en", now)
        mine = await cases.my_cases(s, w.resident, "en", now)
        assert {b.id for b in mine} == {old.id, new.id, emergency.id}
        page2, _ = await cases.inbox(s, w.worker2, "en", now, offset=2, limit=2)
        assert [b.id for b in page2] == [new.id]


async def test_outbox_rows_are_written_once_per_event_and_recipient(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w)
        first = await s.scalar(select(func.count()).select_from(OutboxMessage))
        from bot.services.cases.intake import notify_new_case

        await notify_new_case(s, SETTINGS, case, (await events(s, case.id))[0].id)  # a retried handler, say
        assert await s.scalar(select(func.count()).select_from(OutboxMessage)) == first
