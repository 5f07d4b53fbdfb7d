"""Cases filed on behalf of a neighbour without Telegram by the head of their
building or unit (楼栋长 / 单元长), who knocks on the door and types it in.

The case is the neighbour's (``resident_id``), sent at once (no draft), a free
request of their grid like one typed at the menu; its ``submitted`` event
names the head (role ``building_head`` or ``unit_head``) and carries
``on_behalf: true``, so the timeline and the figures show who filed it.  The
head follows the case: they hear of each change of status, to pass it on at
the door.  The neighbour has no chat, so a resolved case closes by itself
after the usual period.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import headed
from bot.services.cases.common import clean_text
from bot.services.cases.intake import MAX_DESCRIPTION, notify_new_case, send_at_once
from bot.services.cases.limits import check_new_case
from bot.services.errors import NotAllowed
from bot.services.offline import offline_resident
from models import (
    ActorRole,
    Building,
    Case,
    CaseFollower,
    CaseKind,
    Grid,
    User,
)


async def file_for_neighbour(session: AsyncSession, settings: Settings, head: User, resident_id: int, text: str,
                             now: datetime) -> Case:
    """The head files ``text`` as a case of their neighbour ``resident_id`` (without Telegram,
    in the building or unit they head: checked on every call)."""
    places = headed(head)
    if not places:
        raise NotAllowed()
    resident = await offline_resident(session, head, resident_id)
    if resident.building_id not in places:
        raise NotAllowed()  # a grid worker's person outside the head's building: not theirs to file for
    description = clean_text(text, MAX_DESCRIPTION)
    await check_new_case(session, settings, resident, now)
    building = await session.get(Building, resident.building_id)
    grid = await session.get(Grid, building.grid_id) if building else None
    if building is None or grid is None:
        raise NotAllowed("no_home")
    role = ActorRole.building_head if places[building.id] is None else ActorRole.unit_head
    case, event = await send_at_once(session, settings, CaseKind.request, grid=grid, building_id=building.id,
                                     resident_id=resident.id, service=None, description=description, filer=head,
                                     role=role, data={"on_behalf": True}, now=now)
    session.add(CaseFollower(case_id=case.id, user_id=head.id, created_at=now))
    await session.flush()
    await notify_new_case(session, settings, case, event.id)
    return case
