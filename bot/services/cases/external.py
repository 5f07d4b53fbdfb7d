"""Cases and the outside world (Open311 GeoReport v2, ``bot.services.open311``):
cases filed by another system on a person's behalf (a web form, a hotline
operator's tool, a FixMyStreet instance), and a resident keeping their case
out of the public list.

Such a case is sent at once, like a resident's draft on "Send": a number,
the building's grid, the catalogue item's deadlines, the ``submitted`` event
and the grid's workers told, in the caller's transaction.  From then on it
runs the same closed loop.  The filing system stands as the case's resident
(a user without a Telegram id: the loop's messages to the resident are not
sent; the system reads the progress through the API instead).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.cases.common import Capacity, case_for, publishable
from bot.services.cases.intake import MAX_DESCRIPTION, notify_new_case, send_at_once
from bot.services.errors import Conflict, NotFound
from bot.services.inputs import typed_text
from models import (
    ActorRole,
    Building,
    Case,
    CaseKind,
    Grid,
    ServiceItem,
    ServiceKind,
    User,
)


async def file_for_system(session: AsyncSession, settings: Settings, filer: User, *, service_id: int,
                          building_id: int, description: str, now: datetime, source: dict[str, Any]) -> Case:
    """A problem report of catalogue item ``service_id`` at ``building_id``, sent now.

    ``filer`` is the system's user (it stands as the resident); ``source``
    goes into the ``submitted`` event (which system, what it sent beside the text).
    """
    service = await session.get(ServiceItem, service_id)
    if service is None or not service.active or service.kind != ServiceKind.report:
        raise NotFound("service")
    building = await session.get(Building, building_id)
    grid = await session.get(Grid, building.grid_id) if building is not None and building.active else None
    if building is None or grid is None or not grid.active:
        raise NotFound("building")
    text = typed_text(description, MAX_DESCRIPTION)
    case, event = await send_at_once(session, settings, CaseKind.report, grid=grid, building_id=building.id,
                                     resident_id=filer.id, service=service, description=text, filer=filer,
                                     role=ActorRole.resident, data=source, now=now)
    await notify_new_case(session, settings, case, event.id)
    return case


async def set_private(session: AsyncSession, resident: User, case_id: int, private: bool) -> Case:
    """The resident keeps their problem report out of the public list (or lets
    it back in).  Only reports of a catalogue item can ever be published, so
    only they have the choice (:func:`publishable`)."""
    case, _caps = await case_for(session, resident, case_id, need={Capacity.resident})
    if not publishable(case):
        raise Conflict("wrong_status", number=case.number or "")
    case.private = private
    await session.flush()
    return case
