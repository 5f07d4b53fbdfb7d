"""The figures of service days (docs/metrics.md, "The district's own organisation"):

* **events held**: events of the scope's communities that started in the
  period and were held (attendance marked); cancelled and open ones are not;
* **signed up / attended**: seats taken (``going``) at those events, and of
  them the people marked as having come;
* **volunteer hours**: the hours credited at those events (a volunteer who came
  is credited the event's hours).
For a grid, the events of its community count (events belong to a community):
for the whole scope (:func:`event_figures`) or per community
(:func:`event_figures_by_community`), one definition.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import EventSignup, EventStatus, ServiceEvent, SignupStatus


@dataclass(frozen=True, slots=True)
class EventFigures:
    held: int = 0
    signed_up: int = 0
    attended: int = 0
    volunteer_hours: int = 0


async def event_figures(session: AsyncSession, community_ids: Any, since: datetime, until: datetime) -> EventFigures:
    """``community_ids``: a subquery of the scope's communities; the period is [since, until)."""
    return (await _figures(session, community_ids, since, until, grouped=False)).get(None, EventFigures())


async def event_figures_by_community(session: AsyncSession, community_ids: Any, since: datetime,
                                     until: datetime) -> dict[int, EventFigures]:
    """The same figures per community (only communities that held an event)."""
    found = await _figures(session, community_ids, since, until, grouped=True)
    return {k: v for k, v in found.items() if k is not None and v.held}


async def _figures(session: AsyncSession, community_ids: Any, since: datetime, until: datetime, *,
                   grouped: bool) -> dict[int | None, EventFigures]:
    keyed = [ServiceEvent.community_id] if grouped else []
    held_where = (ServiceEvent.community_id.in_(community_ids), ServiceEvent.status == EventStatus.held,
                  ServiceEvent.starts_at >= since, ServiceEvent.starts_at < until)
    events = select(*keyed, func.count()).select_from(ServiceEvent).where(*held_where)
    seats = (select(*keyed, func.count(),
                    func.coalesce(func.sum(case((EventSignup.attended.is_(True), 1), else_=0)), 0),
                    func.coalesce(func.sum(EventSignup.hours), 0))
             .select_from(EventSignup).join(ServiceEvent, ServiceEvent.id == EventSignup.event_id)
             .where(*held_where, EventSignup.status == SignupStatus.going))
    if grouped:
        events, seats = events.group_by(ServiceEvent.community_id), seats.group_by(ServiceEvent.community_id)
    out: dict[int | None, EventFigures] = {}
    for row in (await session.execute(events)).all():
        out[row[0] if grouped else None] = EventFigures(held=int(row[-1]))
    for row in (await session.execute(seats)).all():
        k = row[0] if grouped else None
        out[k] = replace(out.get(k, EventFigures()), signed_up=int(row[-3]), attended=int(row[-2] or 0),
                         volunteer_hours=int(row[-1] or 0))
    return out
