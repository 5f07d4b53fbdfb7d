"""A small world for the diary's unit tests: the hand-built district of
tests/factories.py, a household ledger and one person of every kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.diary import households as diary_households
from models import CareTag, Household, OutboxMessage, Role, User
from tests.factories import Place, make_district, make_user

SH = ZoneInfo("Asia/Shanghai")
SETTINGS = Settings(_env_file=None)
# Tuesday 1 December 2026, 09:00 in Shanghai.
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=SH).astimezone(UTC)


def local(day: int, hour: int, minute: int = 0, month: int = 12) -> datetime:
    """A moment of December 2026 (or ``month``) in Shanghai, as aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


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
    g1, g3 = place.grids[0], place.grids[2]
    people = dict(
        worker=await make_user(session, 9101, role=Role.worker, scope_id=g1.id),
        worker2=await make_user(session, 9102, role=Role.worker, scope_id=g1.id, locale="en"),
        head=await make_user(session, 9103, role=Role.grid_head, scope_id=g1.id),
        other_worker=await make_user(session, 9104, role=Role.worker, scope_id=g3.id),
        staff=await make_user(session, 9201, role=Role.staff, scope_id=place.communities[0].id),
        other_staff=await make_user(session, 9202, role=Role.staff, scope_id=place.communities[1].id),
        officer=await make_user(session, 9301, role=Role.department, scope_id=place.department.id),
        admin=await make_user(session, 9401, role=Role.admin, scope_id=place.district.id),
        resident=await make_user(session, 9501),
    )
    people["resident"].building_id, people["resident"].grid_id = place.buildings[0].id, g1.id
    b1, b2, b5 = place.buildings[0], place.buildings[1], place.buildings[4]
    households = []
    for code, building, unit, label in (("H1", b1, "1-101", "王奶奶"), ("H2", b2, "2-302", "李叔"),
                                        ("H3", b5, "1-201", "赵大爷")):
        h = Household(code=code, grid_id=building.grid_id, building_id=building.id, unit=unit, label=label,
                      created_at=T0, updated_at=T0)
        session.add(h)
        households.append(h)
    await session.flush()
    head, other_staff = people["head"], people["other_staff"]
    await diary_households.set_tag(session, SETTINGS, head, households[0].id, CareTag.elderly_alone, 7, T0)
    await diary_households.set_tag(session, SETTINGS, head, households[1].id, CareTag.disabled, 30, T0)
    await diary_households.set_tag(session, SETTINGS, other_staff, households[2].id, CareTag.elderly_alone, 7, T0)
    await session.flush()
    return World(place=place, **people, alone=households[0], disabled=households[1], elsewhere=households[2])


async def outbox(session: AsyncSession, user: User | None = None) -> list[OutboxMessage]:
    q = select(OutboxMessage).order_by(OutboxMessage.id)
    if user is not None:
        q = q.where(OutboxMessage.user_id == user.id)
    return list(await session.scalars(q))
