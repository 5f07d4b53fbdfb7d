"""The figures of service days (docs/metrics.md, "The district's own organisation"):

* **events held**: events of the scope's communities that started in the
  period and were held (attendance marked); cancelled and open ones are not;
* **signed up / attended**: seats taken (``going``) at those events, and of
  them the people marked as having come;
* **volunteer hours**: the hours credited at those events (a volunteer who came
  is credited the event's hours).
For a grid, the events of its community count (events belong to a community).
"""

from __future__ import annotations

from dataclasses import dataclass
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
    held = select(ServiceEvent.id).where(ServiceEvent.community_id.in_(community_ids),
                                         ServiceEvent.status == EventStatus.held,
                                         ServiceEvent.starts_at >= since, ServiceEvent.starts_at < until)
    events = int(await session.scalar(select(func.count()).select_from(held.subquery())) or 0)
    row = (await session.execute(select(
        func.count(), func.coalesce(func.sum(case((EventSignup.attended.is_(True), 1), else_=0)), 0),
        func.coalesce(func.sum(EventSignup.hours), 0))
        .where(EventSignup.event_id.in_(held), EventSignup.status == SignupStatus.going))).one()
    return EventFigures(events, int(row[0]), int(row[1]), int(row[2]))
