"""A small world for the appointment services' tests: the case tests' world
(people of every kind in two communities) plus a station in each community."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    AppointmentPlan,
    OutboxMessage,
    ServiceItem,
    ServiceKind,
    Station,
    StationService,
)
from tests.factories import SETTINGS, names, shanghai
from tests.unit.cases.world import World, make_world

HOURS = {d: ["08:30-11:30", "13:30-17:00"] for d in ("mon", "tue", "wed", "thu", "fri")} | {
    "sat": ["09:00-11:30"], "sun": []}
# Tuesday 1 December 2026, 09:00 in Shanghai.
T0 = shanghai(12, 1, 9)


def at(day: int, hhmm: str, month: int = 12) -> datetime:
    """A local time in December 2026, as aware UTC."""
    h, m = (int(x) for x in hhmm.split(":"))
    return shanghai(month, day, h, m)


@dataclass
class ApptWorld:
    w: World
    station: Station  # in community 1 (the resident's)
    station2: Station  # in community 2
    visit: ServiceItem  # kind appointment
    advice: ServiceItem  # kind consult
    home: ServiceItem  # kind appointment, booked at home (APPOINTMENT_HOME_SERVICES)


async def make_appt_world(session: AsyncSession) -> ApptWorld:
    w = await make_world(session)
    visit = ServiceItem(code="AP-STATION", kind=ServiceKind.appointment, names=names("预约到站办事", "Station visit"),
                        sort_order=1)
    advice = ServiceItem(code="CS-POLICY", kind=ServiceKind.consult, names=names("政策咨询", "Policy advice"),
                         sort_order=2)
    home = ServiceItem(code="AP-HOMEVISIT", kind=ServiceKind.appointment, names=names("预约上门服务", "Home visit"),
                       sort_order=3)
    session.add_all([visit, advice, home])
    stations = []
    for i, community in enumerate(w.place.communities):
        station = Station(code=f"ST{i + 1}", community_id=community.id,
                          names=names(f"{i + 1}号服务站", f"Station {i + 1}"),
                          address=names(f"民主路{i + 1}号", f"{i + 1} Minzhu Road"), phone=f"0435-326100{i}",
                          latitude=41.70 + 0.05 * i, longitude=125.94, opening_hours=HOURS)
        session.add(station)
        stations.append(station)
    await session.flush()
    for station in stations:
        for item in (visit, advice, home, w.proxy_item):
            session.add(StationService(station_id=station.id, service_id=item.id))
    await session.flush()
    return ApptWorld(w, stations[0], stations[1], visit, advice, home)


async def set_capacity(session: AsyncSession, aw: ApptWorld, capacity: int, *, service: ServiceItem | None = None,
                       **extra: object) -> None:
    """Store a plan row like the default one but with ``capacity`` seats."""
    service = service or aw.visit
    session.add(AppointmentPlan(
        station_id=aw.station.id, service_id=service.id, weekly=HOURS, slot_minutes=30, capacity=capacity,
        horizon_days=extra.get("horizon_days", 14), min_notice_minutes=extra.get("min_notice_minutes", 120),
        cancel_cutoff_minutes=extra.get("cancel_cutoff_minutes", 60), at_home=False, active=True))
    await session.flush()


async def outbox_rows(session: AsyncSession, prefix: str = "appt:") -> list[OutboxMessage]:
    return list(await session.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.startswith(prefix))
                                      .order_by(OutboxMessage.id).execution_options(populate_existing=True)))


__all__ = ["SETTINGS", "T0", "ApptWorld", "at", "make_appt_world", "outbox_rows", "set_capacity"]
