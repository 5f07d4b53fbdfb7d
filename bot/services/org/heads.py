"""Building and unit heads (楼栋长 / 单元长): the places they head, and the
building card's people as a grid's worker sees them.

What a head does lives where the matter does (each checks the head's grant
through :mod:`bot.services.access`): confirming home claims
(``bot.services.homes``), acting for neighbours without Telegram
(``bot.services.offline``, then ``appointments.book`` or
``cases.file_for_neighbour``), receiving the building's notices and the
list of neighbours who have not confirmed one (``bot.services.broadcasts``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import homes
from bot.services.access import field_grid_ids, headed, overseen_grid_ids, split_unit_scope
from bot.services.errors import NotAllowed, NotFound
from models import UNIT_FACTOR, Building, PartyMember, Role, RoleGrant, ScopeType, User, i18n_name


@dataclass(frozen=True, slots=True)
class HeadPlace:
    building_id: int
    building: str
    units: tuple[int, ...]  # empty: the whole building
    neighbours: int  # registered people living there (in their units)
    offline: int  # of them, without Telegram
    claims: int  # claims the head may confirm (whole building only)


async def my_places(session: AsyncSession, head: User, locale: str) -> list[HeadPlace]:
    """The buildings (units) ``head`` heads, with their neighbours counted."""
    places = headed(head)
    if not places:
        raise NotAllowed()
    out = []
    for building_id, units in sorted(places.items()):
        building = await session.get(Building, building_id)
        if building is None:
            continue
        where = [User.building_id == building_id, User.registered_at.is_not(None), User.id != head.id]
        if units is not None:
            where.append(User.unit.in_(sorted(units)))
        counts = (await session.execute(select(func.count(), func.count(User.id).filter(User.telegram_id.is_(None)))
                                        .where(*where))).one()
        out.append(HeadPlace(building_id, i18n_name(building.names, locale, building.code),
                             tuple(sorted(units or ())), int(counts[0]), int(counts[1]), 0))
    claims = await homes.claims_count(session, head)
    return [p if i else HeadPlace(p.building_id, p.building, p.units, p.neighbours, p.offline, claims)
            for i, p in enumerate(out)]


@dataclass(frozen=True, slots=True)
class CardPerson:
    name: str
    role: Role | None  # building_head or unit_head; None: a party-member central household
    unit: int | None = None


async def building_people(session: AsyncSession, viewer: User, building_id: int) -> list[CardPerson]:
    """The heads of a building and its party-member central households, for the building
    card of a worker of its grid (or someone who oversees it); names only."""
    building = await session.get(Building, building_id)
    if building is None or not (building.grid_id in field_grid_ids(viewer)
                                or building.grid_id in await overseen_grid_ids(session, viewer, districts=True)):
        raise NotFound("building")
    out: list[CardPerson] = []
    rows = (await session.execute(
        select(User, RoleGrant).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(((RoleGrant.scope_type == ScopeType.building) & (RoleGrant.scope_id == building_id))
               | ((RoleGrant.scope_type == ScopeType.unit) & ((RoleGrant.scope_id // UNIT_FACTOR) == building_id)))
        .order_by(RoleGrant.role, RoleGrant.scope_id, User.id))).all()
    for user, grant in rows:
        unit = split_unit_scope(grant.scope_id)[1] if grant.scope_type == ScopeType.unit else None
        out.append(CardPerson(_name(user), grant.role, unit))
    central = await session.scalars(
        select(User).join(PartyMember, PartyMember.user_id == User.id)
        .where(User.building_id == building_id, PartyMember.central_household).order_by(User.id))
    out.extend(CardPerson(_name(u), None, u.unit) for u in central)
    return out


def _name(user: User) -> str:
    return " ".join(p for p in (user.first_name, user.last_name) if p) or "—"
