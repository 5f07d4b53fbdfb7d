"""A small world for the diary's unit tests: the hand-built district of
tests/factories.py, a household ledger and one person of every kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.diary import households as diary_households
from models import CareTag, Household, User
from tests.factories import SETTINGS, Place, make_district, make_staff, make_user, shanghai

# Tuesday 1 December 2026, 09:00 in Shanghai.
T0 = shanghai(12, 1, 9)


def local(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A moment of December 2026 (or ``month``) in Shanghai, as aware UTC."""
    return shanghai(month, day, hour, minute)


@dataclass
class World:
    place: Place
    worker: User  # grid 1 of community 1
    worker2: User  # the same grid
    head: User  # grid head of grid 1
    other_worker: User  # grid 1 of community 2
    staff: User  # community 1
    other_staff: User  # community 2
    officer: User
    admin: User
    resident: User
    alone: Household  # 王奶奶, elderly living alone, weekly visits, building 1 of grid 1
    disabled: Household  # 李叔, disabled, monthly, building 2 of grid 1
    elsewhere: Household  # a household of the other community


async def make_world(session: AsyncSession) -> World:
    place = await make_district(session)
    people = await make_staff(session, place, 9000)
    people["resident"] = await make_user(session, 9501)
    people["resident"].building_id, people["resident"].grid_id = place.buildings[0].id, place.grids[0].id
    b1, b2, b5 = place.buildings[0], place.buildings[1], place.buildings[4]
    households = []
    for code, building, unit, label in (("H1", b1, "1-101", "王奶奶"), ("H2", b2, "2-302", "李叔"),
                                        ("H3", b5, "1-201", "赵大爷")):
        h = Household(code=code, grid_id=building.grid_id, building_id=building.id, unit=unit, label=label,
                      created_at=T0, updated_at=T0, sensitive_consent_at=T0)  # consent to tags recorded
        session.add(h)
        households.append(h)
    await session.flush()
    head, other_staff = people["head"], people["other_staff"]
    await diary_households.set_tag(session, SETTINGS, head, households[0].id, CareTag.elderly_alone, 7, T0)
    await diary_households.set_tag(session, SETTINGS, head, households[1].id, CareTag.disabled, 30, T0)
    await diary_households.set_tag(session, SETTINGS, other_staff, households[2].id, CareTag.elderly_alone, 7, T0)
    await session.flush()
    return World(place=place, **people, alone=households[0], disabled=households[1], elsewhere=households[2])
