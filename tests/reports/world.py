"""The fixed data set of the report tests, built row by row (no services), so
that every expected number in the tests can be worked out by hand from
``docs/metrics.md``.  The expected values are written in the tests, not here.

Times are local (Asia/Shanghai).  The report period is November 2026, the
report is made on Thursday 3 December 2026 at 12:00.  Cases (community C1
unless said otherwise; "PX" is the proxy errand item, "RP" the repair item):

====  =====  ====  =====  ======================================================
case  grid   item  owner  events
====  =====  ====  =====  ======================================================
A     G1     PX    w1     sent 11-02 09:00, accepted 09:30, resolved 15:00 on time,
                          confirmed 11-03 10:00, rated 5 "很好"
B     G1     RP    w1     sent 11-05 10:00, accepted 12:00, resolved 16:00 on time,
                          reopened 11-06 09:00, resolved 11-09 10:00 late,
                          auto-closed 11-12 10:00, rated 3
C     G2     RP    w2     sent 11-10 08:00 as an emergency, acknowledged and
                          accepted 08:06, resolved 11:00 on time, confirmed 12:00,
                          rated 4 "及时"
D     G2     -     -      sent 11-20 09:00, withdrawn 10:00
E     G1     PX    w1     sent 11-25 09:00, accepted 13:00, resolve due 11-27 17:30;
                          resolved 12-05 (after the report is made)
F     G1     RP    -      sent 11-30 23:30 (15:30 UTC), accept due 12-01 10:30
G     G1     RP    -      sent 12-01 00:10 (still 11-30 in UTC), accept due 12-01 10:30
H     G3/C2  RP    w3     sent 11-15 10:00, accepted 10:10, resolved 11-16 10:00 on
                          time, confirmed 11-17 10:00, rated 2 "太慢"
I     G1     PX    w1     sent 10-31 23:59, accepted 11-01 08:00, resolved 09:00 on
                          time, confirmed 10:00
====  =====  ====  =====  ======================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    Appointment,
    AppointmentSlot,
    AppointmentStatus,
    CancelReason,
    Case,
    CaseEventType,
    CaseKind,
    CaseStatus,
    CloseReason,
    DiaryEntry,
    EntryKind,
    Household,
    Patrol,
    Role,
    ServiceItem,
    ServiceKind,
    Station,
    User,
)
from tests.factories import SH, Place, add_case, make_district, make_user, names
from tests.factories import shanghai as at  # at(month, day, hour, minute): a local time of 2026

AS_OF = at(12, 3, 12)


@dataclass
class RWorld:
    place: Place
    px: ServiceItem
    rp: ServiceItem
    w1: User  # worker of G1
    w2: User  # worker of G2
    w3: User  # worker of G3 (community C2)
    h1: User  # grid head of G1
    h3: User  # grid head of G3
    s1: User  # staff of C1
    s2: User  # staff of C2
    admin: User
    resident: User  # lives in G1
    resident2: User  # lives in G2
    cases: dict[str, Case] = field(default_factory=dict)


async def _case(session: AsyncSession, w: RWorld, name: str, grid: int, item: ServiceItem | None,
                owner: User | None, events: list[tuple[CaseEventType, datetime, dict[str, Any], str | None]],
                status: CaseStatus, **columns: Any) -> Case:
    g = w.place.grids[grid]
    case = await add_case(session, events, number=f"DC-2026-{name}",
                          kind=CaseKind.report if item is not w.px else CaseKind.proxy,
                          status=status, service_id=item.id if item else None, resident_id=w.resident.id,
                          community_id=g.community_id, grid_id=g.id, owner_id=owner.id if owner else None,
                          created_at=events[0][1], **columns)
    w.cases[name] = case
    return case


async def make_report_world(session: AsyncSession) -> RWorld:
    place = await make_district(session)
    g1, g2, g3 = place.grids[0], place.grids[1], place.grids[2]
    c1, c2 = place.communities
    px = ServiceItem(code="PX", kind=ServiceKind.proxy, names=names("居住证明", "Proof of residence"))
    rp = ServiceItem(code="RP", kind=ServiceKind.report, names=names("设施维修", "Repair"))
    session.add_all([px, rp])
    await session.flush()
    w = RWorld(
        place, px, rp,
        w1=await make_user(session, 8101, role=Role.worker, scope_id=g1.id),
        w2=await make_user(session, 8102, role=Role.worker, scope_id=g2.id),
        w3=await make_user(session, 8103, role=Role.worker, scope_id=g3.id),
        h1=await make_user(session, 8201, role=Role.grid_head, scope_id=g1.id),
        h3=await make_user(session, 8203, role=Role.grid_head, scope_id=g3.id),
        s1=await make_user(session, 8301, role=Role.staff, scope_id=c1.id),
        s2=await make_user(session, 8302, role=Role.staff, scope_id=c2.id, locale="en"),
        admin=await make_user(session, 8401, role=Role.admin, scope_id=place.district.id),
        resident=await make_user(session, 8501),
        resident2=await make_user(session, 8502),
    )
    w.w1.first_name, w.w2.first_name, w.w3.first_name = "王一", "李二", "张三"
    w.resident.grid_id, w.resident.building_id = g1.id, place.buildings[0].id
    w.resident2.grid_id, w.resident2.building_id = g2.id, place.buildings[2].id
    T = CaseEventType
    on, late = {"on_time": True}, {"on_time": False}
    await _case(session, w, "A", 0, px, w.w1, [
        (T.submitted, at(11, 2, 9), {}, None), (T.accepted, at(11, 2, 9, 30), on, None),
        (T.resolved, at(11, 2, 15), on, "办好了"), (T.confirmed, at(11, 3, 10), {"sign_off": True}, None),
        (T.rated, at(11, 3, 10, 5), {"score": 5}, "很好")], CaseStatus.closed, close_reason=CloseReason.confirmed)
    await _case(session, w, "B", 0, rp, w.w1, [
        (T.submitted, at(11, 5, 10), {}, None), (T.accepted, at(11, 5, 12), on, None),
        (T.resolved, at(11, 5, 16), on, None), (T.reopened, at(11, 6, 9), {"count": 1}, None),
        (T.resolved, at(11, 9, 10), late, None), (T.auto_closed, at(11, 12, 10), {"after_days": 3}, None),
        (T.rated, at(11, 13, 9), {"score": 3}, None)], CaseStatus.closed, close_reason=CloseReason.auto,
        reopen_count=1)
    await _case(session, w, "C", 1, rp, w.w2, [
        (T.submitted, at(11, 10, 8), {"emergency": True}, None), (T.emergency_flagged, at(11, 10, 8), {}, None),
        (T.emergency_acknowledged, at(11, 10, 8, 6), {}, None), (T.accepted, at(11, 10, 8, 6), on, None),
        (T.resolved, at(11, 10, 11), on, None), (T.confirmed, at(11, 10, 12), {}, None),
        (T.rated, at(11, 10, 13), {"score": 4}, "及时")], CaseStatus.closed, close_reason=CloseReason.confirmed,
        emergency=True)
    await _case(session, w, "D", 1, None, None, [
        (T.submitted, at(11, 20, 9), {}, None), (T.withdrawn, at(11, 20, 10), {}, None)],
        CaseStatus.closed, close_reason=CloseReason.withdrawn)
    await _case(session, w, "E", 0, px, w.w1, [
        (T.submitted, at(11, 25, 9), {}, None), (T.accepted, at(11, 25, 13), on, None),
        (T.started, at(11, 25, 14), {}, None), (T.resolved, at(12, 5, 10), on, None)],
        CaseStatus.in_progress, resolve_due_at=at(11, 27, 17, 30))
    await _case(session, w, "F", 0, rp, None, [(T.submitted, at(11, 30, 23, 30), {}, None)], CaseStatus.new,
                accept_due_at=at(12, 1, 10, 30), resolve_due_at=at(12, 2, 17, 30))
    await _case(session, w, "G", 0, rp, None, [(T.submitted, at(12, 1, 0, 10), {}, None)], CaseStatus.new,
                accept_due_at=at(12, 1, 10, 30), resolve_due_at=at(12, 2, 17, 30))
    await _case(session, w, "H", 2, rp, w.w3, [
        (T.submitted, at(11, 15, 10), {}, None), (T.accepted, at(11, 15, 10, 10), on, None),
        (T.resolved, at(11, 16, 10), on, None), (T.confirmed, at(11, 17, 10), {}, None),
        (T.rated, at(11, 17, 11), {"score": 2}, "太慢")], CaseStatus.closed, close_reason=CloseReason.confirmed)
    await _case(session, w, "I", 0, px, w.w1, [
        (T.submitted, at(10, 31, 23, 59), {}, None), (T.accepted, at(11, 1, 8), on, None),
        (T.resolved, at(11, 1, 9), on, None), (T.confirmed, at(11, 1, 10), {}, None)],
        CaseStatus.closed, close_reason=CloseReason.confirmed)
    await _diary(session, w)
    await _appointments(session, w)
    return w


async def _diary(session: AsyncSession, w: RWorld) -> None:
    g1, g2 = w.place.grids[0], w.place.grids[1]
    b1, b3 = w.place.buildings[0], w.place.buildings[2]
    hh = [Household(code="HH1", grid_id=g1.id, building_id=b1.id, label="王奶奶", visit_due_on=date(2026, 11, 30)),
          Household(code="HH2", grid_id=g1.id, building_id=b1.id, label="李叔", visit_due_on=date(2026, 12, 3)),
          Household(code="HH3", grid_id=g2.id, building_id=b3.id, label="赵姨", visit_due_on=date(2026, 12, 10)),
          Household(code="HH4", grid_id=g1.id, building_id=b1.id, label="搬走了", active=False,
                    visit_due_on=date(2026, 11, 1)),
          Household(code="HH5", grid_id=g2.id, building_id=b3.id, label="无标签", visit_due_on=None)]
    session.add_all(hh)
    await session.flush()
    patrol = Patrol(worker_id=w.w1.id, grid_id=g1.id, started_at=at(11, 3, 9), ended_at=at(11, 3, 10))
    session.add(patrol)
    await session.flush()

    def entry(worker: User, grid, kind: EntryKind, day: date, category: str | None = None,  # type: ignore[no-untyped-def]
              household: Household | None = None, case_id: int | None = None, deleted: bool = False) -> DiaryEntry:
        moment = datetime(day.year, day.month, day.day, 10, tzinfo=SH).astimezone(UTC)
        return DiaryEntry(worker_id=worker.id, grid_id=grid.id, kind=kind, category=category, day=day,
                          household_id=household.id if household else None, case_id=case_id, occurred_at=moment,
                          created_at=moment, updated_at=moment, deleted_at=moment if deleted else None,
                          text="…")

    d = date
    session.add_all([
        entry(w.w1, g1, EntryKind.visit, d(2026, 11, 3), "elderly_alone", hh[0]),
        entry(w.w1, g1, EntryKind.visit, d(2026, 11, 4), "disabled", hh[1]),
        entry(w.w1, g1, EntryKind.visit, d(2026, 11, 5)),
        entry(w.w1, g1, EntryKind.opinion, d(2026, 11, 6), "environment"),
        entry(w.w1, g1, EntryKind.opinion, d(2026, 11, 7)),
        entry(w.w1, g1, EntryKind.problem, d(2026, 11, 8), case_id=w.cases["A"].id),
        entry(w.w1, g1, EntryKind.problem, d(2026, 11, 9)),
        entry(w.w1, g1, EntryKind.note, d(2026, 11, 10)),
        entry(w.w1, g1, EntryKind.visit, d(2026, 11, 11), "elderly_alone", hh[0], deleted=True),
        entry(w.w1, g1, EntryKind.visit, d(2026, 10, 31), "elderly_alone", hh[0]),
        entry(w.w1, g1, EntryKind.visit, d(2026, 12, 1), "elderly_alone", hh[0]),
        entry(w.w2, g2, EntryKind.visit, d(2026, 11, 12), "elderly_alone", hh[2]),
        entry(w.w2, g2, EntryKind.opinion, d(2026, 11, 13), "safety"),
        entry(w.w3, w.place.grids[2], EntryKind.visit, d(2026, 11, 14), "member_hardship"),
    ])
    await session.flush()


async def _appointments(session: AsyncSession, w: RWorld) -> None:
    c1, c2 = w.place.communities
    st1 = Station(code="ST1", community_id=c1.id, names=names("新站服务站", "Xinzhan station"),
                  address=names("路1号", "1 Road"))
    st2 = Station(code="ST2", community_id=c2.id, names=names("老站服务站", "Laozhan station"),
                  address=names("路2号", "2 Road"))
    session.add_all([st1, st2])
    await session.flush()

    specs = [
        (st1, w.resident, date(2026, 11, 10), AppointmentStatus.attended, True, None),
        (st1, w.resident2, date(2026, 11, 11), AppointmentStatus.no_show, False, None),
        (st1, w.resident, date(2026, 11, 12), AppointmentStatus.cancelled, False, CancelReason.resident),
        (st1, w.resident, date(2026, 11, 30), AppointmentStatus.booked, False, None),
        (st1, w.resident, date(2026, 12, 2), AppointmentStatus.attended, False, None),
        (st2, w.resident2, date(2026, 11, 16), AppointmentStatus.attended, False, None),
    ]
    for station, resident, day, status, proxy, cancel in specs:
        start = datetime(day.year, day.month, day.day, 9, tzinfo=SH).astimezone(UTC)
        slot = AppointmentSlot(station_id=station.id, service_id=w.px.id, starts_at=start, booked=1)
        session.add(slot)
        await session.flush()
        session.add(Appointment(slot_id=slot.id, station_id=station.id, service_id=w.px.id, resident_id=resident.id,
                                starts_at=start, ends_at=start + timedelta(minutes=30), day=day, status=status,
                                proxy=proxy, cancel_reason=cancel))
    await session.flush()
