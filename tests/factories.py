"""A small hand-built district for unit tests (the demo data set is bigger)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models import (
    ROLE_SCOPE,
    Building,
    Community,
    Department,
    District,
    Grid,
    InboundStatus,
    InboundUpdate,
    Role,
    RoleGrant,
    User,
    utcnow,
)


def names(zh: str, en: str) -> dict[str, str]:
    return {"zh-Hans": zh, "zh-Hant": zh + "（繁）", "en": en}


@dataclass
class Place:
    district: District
    communities: list[Community] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    buildings: list[Building] = field(default_factory=list)
    department: Department | None = None


async def make_district(session: AsyncSession) -> Place:
    """2 communities × 2 grids × 2 buildings, along a line of latitude."""
    district = District(code="D1", names=names("东昌区", "Dongchang"))
    session.add(district)
    await session.flush()
    place = Place(district)
    for ci, (zh, en) in enumerate([("新站社区", "Xinzhan"), ("老站社区", "Laozhan")]):
        community = Community(code=f"C{ci + 1}", district_id=district.id, names=names(zh, en))
        session.add(community)
        await session.flush()
        place.communities.append(community)
        for gi in range(2):
            grid = Grid(code=f"C{ci + 1}-G{gi + 1}", community_id=community.id,
                        names=names(f"{zh}第{gi + 1}网格", f"{en} grid {gi + 1}"))
            session.add(grid)
            await session.flush()
            place.grids.append(grid)
            for bi in range(2):
                building = Building(
                    code=f"C{ci + 1}-G{gi + 1}-B{bi + 1}", grid_id=grid.id,
                    names=names(f"{gi + 1}区{bi + 1}号楼", f"Block {gi + 1}-{bi + 1}"),
                    latitude=41.70 + 0.01 * len(place.buildings), longitude=125.94, units=3,
                )
                session.add(building)
                place.buildings.append(building)
    place.department = Department(code="CG", names=names("城管", "Urban management"), ack_hours=4)
    session.add(place.department)
    await session.flush()
    return place


async def make_user(session: AsyncSession, telegram_id: int, *, role: Role | None = None,
                    scope_id: int | None = None, locale: str = "zh-Hans") -> User:
    user = User(telegram_id=telegram_id, first_name=f"user{telegram_id}", locale=locale, registered_at=utcnow(),
                roles=[])
    session.add(user)
    await session.flush()
    if role is not None:
        user.roles.append(RoleGrant(role=role, scope_type=ROLE_SCOPE[role], scope_id=scope_id))
        await session.flush()
    return user


async def pending_inbound(sessionmaker, update_id: int) -> int:  # type: ignore[no-untyped-def]
    """A stored update not handled yet, as the inbound pipeline leaves it; its row id."""
    async with sessionmaker() as s:
        row_id = (await s.execute(
            insert(InboundUpdate).values(bot_id=1, update_id=update_id, payload="{}", status=InboundStatus.pending,
                                         attempts=0, received_at=utcnow()).returning(InboundUpdate.id)
        )).scalar_one()
        await s.commit()
    return row_id
