"""A small hand-built district for unit tests (the demo data set is bigger),
its people, and the settings and clock the unit tests share."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from models import (
    ROLE_SCOPE,
    ActorRole,
    Building,
    Case,
    CaseEvent,
    CaseEventType,
    Community,
    Department,
    District,
    Grid,
    InboundStatus,
    InboundUpdate,
    OutboxMessage,
    Role,
    RoleGrant,
    User,
    utcnow,
)

SH = ZoneInfo("Asia/Shanghai")
SETTINGS = Settings(_env_file=None)


def shanghai(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    """A local time of 2026 in Shanghai, as aware UTC."""
    return datetime(2026, month, day, hour, minute, tzinfo=SH).astimezone(UTC)


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


async def make_staff(session: AsyncSession, place: Place, first: int) -> dict[str, User]:
    """One person of every staff kind, by the names the unit tests' worlds give
    them; Telegram ids from ``first`` + 101 (workers) to ``first`` + 401 (admin).
    Workers and the grid head in grid 1 of community 1, ``other_worker`` in grid 1
    of community 2."""
    g1, other_grid = place.grids[0], place.grids[2]
    return dict(
        worker=await make_user(session, first + 101, role=Role.worker, scope_id=g1.id),
        worker2=await make_user(session, first + 102, role=Role.worker, scope_id=g1.id, locale="en"),
        head=await make_user(session, first + 103, role=Role.grid_head, scope_id=g1.id),
        other_worker=await make_user(session, first + 104, role=Role.worker, scope_id=other_grid.id),
        staff=await make_user(session, first + 201, role=Role.staff, scope_id=place.communities[0].id),
        other_staff=await make_user(session, first + 202, role=Role.staff, scope_id=place.communities[1].id),
        officer=await make_user(session, first + 301, role=Role.department, scope_id=place.department.id),
        admin=await make_user(session, first + 401, role=Role.admin, scope_id=place.district.id),
    )


async def add_case(session: AsyncSession, events: list[tuple[CaseEventType, datetime, dict[str, Any], str | None]],
                   **columns: Any) -> Case:
    """A case stored row by row (no services), sent at its first event's time,
    with ``events`` (type, moment, data, note) as the system's."""
    case = Case(submitted_at=events[0][1], **columns)
    session.add(case)
    await session.flush()
    for type_, moment, data, note in events:
        session.add(CaseEvent(case_id=case.id, at=moment, actor_role=ActorRole.system, type=type_, data=data,
                              note=note))
    await session.flush()
    return case


async def outbox(session: AsyncSession, user: User | None = None) -> list[OutboxMessage]:
    """The outbox in the order it was written (``user``'s rows only, if given)."""
    q = select(OutboxMessage).order_by(OutboxMessage.id)
    if user is not None:
        q = q.where(OutboxMessage.user_id == user.id)
    return list(await session.scalars(q))


async def pending_inbound(sessionmaker, update_id: int) -> int:  # type: ignore[no-untyped-def]
    """A stored update not handled yet, as the inbound pipeline leaves it; its row id."""
    async with sessionmaker() as s:
        row_id = (await s.execute(
            insert(InboundUpdate).values(bot_id=1, update_id=update_id, payload="{}", status=InboundStatus.pending,
                                         attempts=0, received_at=utcnow()).returning(InboundUpdate.id)
        )).scalar_one()
        await s.commit()
    return row_id
