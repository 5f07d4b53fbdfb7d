"""Roles that end (bot/services/roles.py) and the access log (bot/services/audit.py):
a former worker loses the phone and the relay at once, their open cases go back to
the queue, only staff/admins of the scope remove roles, and the log is read by scope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select, update

from bot.services import appointments as appt
from bot.services import audit, cases, roles
from bot.services.appointments import staff as appt_staff
from bot.services.errors import DomainError, NotAllowed, NotFound
from models import (
    AccessAction,
    AccessLog,
    Case,
    CaseEvent,
    CaseEventType,
    CaseStatus,
    Role,
    RoleGrant,
)
from tests.factories import outbox
from tests.unit.appointments.world import SETTINGS as APPT_SETTINGS
from tests.unit.appointments.world import T0 as APPT_T0
from tests.unit.appointments.world import at, make_appt_world
from tests.unit.cases.world import SETTINGS, T0, buttons, make_world, sent_case


async def _log(s) -> list[AccessLog]:  # type: ignore[no-untyped-def]
    return list(await s.scalars(select(AccessLog).order_by(AccessLog.id)))


async def test_owner_without_a_current_grant_loses_phone_and_relay(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await sent_case(s, w)
        await cases.accept(s, SETTINGS, w.worker, case.id, T0)
        card = await cases.view(s, w.worker, case.id, "zh-Hans", T0)
        assert card.resident_phone == w.resident.phone
        [row] = await _log(s)
        assert (row.action, row.actor_id, row.subject_id, row.object_type, row.object_id, row.community_id) == (
            AccessAction.phone_viewed, w.worker.id, w.resident.id, "case", case.id, w.place.communities[0].id)
        # A check before a conversation is not a showing: nothing more is logged.
        await cases.require_action(s, w.worker, case.id, "chat", "zh-Hans", T0)
        assert len(await _log(s)) == 1

        # The worker moves to another grid (the grant changes, the case stays theirs):
        await s.execute(update(RoleGrant).where(RoleGrant.user_id == w.worker.id)
                        .values(scope_id=w.place.grids[1].id))
        await s.refresh(w.worker, ["roles"])
        with pytest.raises(NotFound):
            await cases.view(s, w.worker, case.id, "zh-Hans", T0)
        with pytest.raises(DomainError):
            await cases.send_message(s, SETTINGS, w.worker, case.id, text="你好", now=T0)
        assert len(await _log(s)) == 1


async def test_revoking_returns_open_cases_to_the_queue_and_is_logged(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        taken = await sent_case(s, w)
        await cases.accept(s, SETTINGS, w.worker, taken.id, T0)
        await cases.start_work(s, SETTINGS, w.worker, taken.id, T0)
        other = await sent_case(s, w, text="电梯坏了")  # not theirs: untouched
        before = len(await outbox(s))
        name, done = await roles.revoke_grant(s, SETTINGS, w.staff, w.worker.roles[0].id, T0 + timedelta(hours=1))
        assert (name, done.role, done.scope_code, done.cases_returned) == (w.worker.first_name, Role.worker,
                                                                         "C1-G1", 1)
        await s.refresh(w.worker, ["roles"])
        assert w.worker.roles == []
        fresh = await s.get(Case, taken.id, populate_existing=True)
        assert (fresh.status, fresh.owner_id, fresh.accepted_at) == (CaseStatus.new, None, None)
        assert (await s.get(Case, other.id)).status == CaseStatus.new
        event = await s.scalar(select(CaseEvent).where(CaseEvent.case_id == taken.id)
                               .order_by(CaseEvent.id.desc()).limit(1))
        assert event.type == CaseEventType.returned and event.data == {"owner": w.worker.id, "reason": "role_ended"}
        told = (await outbox(s))[before:]
        assert {m.user_id for m in told} == {w.worker2.id, w.head.id}  # the grid's team as it is now
        assert all(f"cs:acc:{taken.id}:0" in buttons(m) for m in told)
        [row] = [r for r in await _log(s) if r.action == AccessAction.role_revoked]
        assert (row.actor_id, row.subject_id, row.detail, row.community_id, row.district_id) == (
            w.staff.id, w.worker.id, "worker@C1-G1 (chat)", w.place.communities[0].id, w.place.district.id)
        # The grid's workers can take it again.
        await cases.accept(s, SETTINGS, w.worker2, taken.id, T0 + timedelta(hours=2))


async def test_who_may_remove_which_role(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        people = {o.id for o in await roles.revocable_people(s, w.staff)}
        assert people == {w.worker.id, w.worker2.id, w.head.id}
        assert {o.id for o in await roles.revocable_people(s, w.other_staff)} == {w.other_worker.id}
        admin_sees = {o.id for o in await roles.revocable_people(s, w.admin)}
        assert admin_sees == {w.worker.id, w.worker2.id, w.head.id, w.other_worker.id, w.staff.id,
                              w.other_staff.id, w.officer.id}  # not themselves
        for actor, target in ((w.other_staff, w.worker), (w.staff, w.other_worker), (w.staff, w.admin),
                              (w.staff, w.officer), (w.worker, w.worker2), (w.head, w.worker), (w.admin, w.admin),
                              (w.resident, w.worker)):
            with pytest.raises(NotFound):
                await roles.revocable_grants(s, actor, target.id, "en")
            with pytest.raises(NotFound):
                await roles.revoke_grant(s, SETTINGS, actor, target.roles[0].id, T0)
        for forged in (0, -1, 2**63, 2**70):
            with pytest.raises(DomainError):
                await roles.revoke_grant(s, SETTINGS, w.admin, forged, T0)
            with pytest.raises(DomainError):
                await roles.revocable_grants(s, w.admin, forged, "en")
        assert len(list(await s.scalars(select(RoleGrant)))) == 8
        await roles.revoke_grant(s, SETTINGS, w.admin, w.staff.roles[0].id, T0)
        assert await s.scalar(select(RoleGrant).where(RoleGrant.user_id == w.staff.id)) is None


async def test_operator_revoke_by_role_and_scope(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        s.add(RoleGrant(user_id=w.head.id, role=Role.worker, scope_type=w.head.roles[0].scope_type,
                        scope_id=w.place.grids[1].id))
        await s.flush()
        await s.refresh(w.head, ["roles"])
        with pytest.raises(NotFound):
            await roles.revoke(s, SETTINGS, w.head, scope_code="NOPE", how="cli", now=T0)
        assert await roles.revoke(s, SETTINGS, w.head, role=Role.staff, how="cli", now=T0) == []
        done = await roles.revoke(s, SETTINGS, w.head, role=Role.worker, scope_code="c1-g2", how="cli", now=T0)
        assert [(r.role, r.scope_code) for r in done] == [(Role.worker, "C1-G2")]
        done = await roles.revoke(s, SETTINGS, w.head, how="cli", now=T0)
        assert [(r.role, r.scope_code) for r in done] == [(Role.grid_head, "C1-G1")]
        rows = [r for r in await _log(s) if r.action == AccessAction.role_revoked]
        assert [(r.actor_id, r.detail) for r in rows] == [(None, "worker@C1-G2 (cli)"), (None, "grid_head@C1-G1 (cli)")]


async def test_access_log_is_read_by_scope(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        c1, c2 = w.place.communities
        for i in range(12):
            await audit.record(s, AccessAction.phone_viewed, actor_id=w.worker.id, subject_id=w.resident.id,
                               place=audit.Place(c1.id), object_type="case", object_id=i + 1, at=T0)
        await audit.record(s, AccessAction.phone_viewed, actor_id=w.other_worker.id, subject_id=w.stranger.id,
                           place=audit.Place(c2.id), object_type="case", object_id=99, at=T0)
        await audit.record(s, AccessAction.role_granted, actor_id=None, subject_id=w.admin.id,
                           place=audit.Place(None, w.place.district.id), object_type="grant", detail="admin@D1",
                           at=T0)
        first, older = await audit.read_log(s, w.staff)
        assert older and [line.object_id for line in first] == list(range(12, 2, -1))  # most recent first
        second, older = await audit.read_log(s, w.staff, page=1)
        assert not older and [line.object_id for line in second] == [2, 1]
        assert first[0].actor == f"{w.worker.first_name} ({w.worker.telegram_id})"
        mine, _ = await audit.read_log(s, w.other_staff)
        assert [line.object_id for line in mine] == [99]
        everything, older = await audit.read_log(s, w.admin, per_page=20)
        assert len(everything) == 14 and not older
        for outsider in (w.worker, w.head, w.officer, w.resident):
            with pytest.raises(NotAllowed):
                await audit.read_log(s, outsider)


async def test_full_phones_on_the_station_agenda_are_logged(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        w = aw.w
        booked = [await appt.book(s, APPT_SETTINGS, who, station_id=aw.station.id, service_id=aw.visit.id,
                                  starts_at=at(2, hour), now=APPT_T0)
                  for who, hour in ((w.resident, "10:00"), (w.neighbour, "11:00"))]
        await appt_staff.agenda(s, APPT_SETTINGS, w.worker, aw.station.id, date(2026, 12, 2), "en")  # masked
        assert await _log(s) == []
        await appt_staff.agenda(s, APPT_SETTINGS, w.staff, aw.station.id, date(2026, 12, 2), "en")
        await appt_staff.booking_card(s, APPT_SETTINGS, w.staff, booked[0].id, "en")
        rows = await _log(s)
        assert [(r.action, r.actor_id, r.subject_id, r.object_type, r.object_id) for r in rows] == [
            (AccessAction.phone_viewed, w.staff.id, w.resident.id, "appointment", booked[0].id),
            (AccessAction.phone_viewed, w.staff.id, w.neighbour.id, "appointment", booked[1].id),
            (AccessAction.phone_viewed, w.staff.id, w.resident.id, "appointment", booked[0].id)]
        assert {r.community_id for r in rows} == {aw.station.community_id}
