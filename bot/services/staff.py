"""What workers, staff and officers may see and do about their scope,
and who may invite whom.  Every function checks the actor's roles itself."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import access, invites, places
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from bot.services.users import Option
from models import (
    Building,
    Community,
    Department,
    District,
    Grid,
    Role,
    RoleGrant,
    ScopeType,
    User,
    i18n_name,
)

ORGANISATION = (Role.building_head, Role.unit_head, Role.volunteer)
# Which roles each role may hand out by invite.
INVITABLE: dict[Role, tuple[Role, ...]] = {
    Role.admin: (Role.worker, Role.grid_head, Role.staff, Role.department, Role.admin, *ORGANISATION),
    Role.staff: (Role.worker, Role.grid_head, *ORGANISATION),
    Role.grid_head: (Role.building_head, Role.unit_head),  # of their own grid's buildings
}
MAX_SCOPES = 99  # places offered as buttons at once (a larger district invites from the command line)


@dataclass(frozen=True, slots=True)
class RoleLine:
    role: Role
    scope: str


@dataclass(frozen=True, slots=True)
class GridSummary:
    grid: str
    community: str
    buildings: int
    residents: int
    workers: int


@dataclass(frozen=True, slots=True)
class CommunitySummary:
    community: str
    grids: list[GridSummary]


async def describe_roles(session: AsyncSession, user: User, locale: str) -> list[RoleLine]:
    lines = []
    for grant in sorted(user.roles, key=lambda g: (g.role.value, g.scope_id)):
        lines.append(RoleLine(grant.role, await places.name_of(session, grant.scope_type, grant.scope_id, locale)))
    return lines


async def _grid_summaries(session: AsyncSession, grid_ids: list[int], locale: str) -> list[GridSummary]:
    if not grid_ids:
        return []
    buildings = dict(
        (await session.execute(
            select(Building.grid_id, func.count()).where(Building.grid_id.in_(grid_ids), Building.active)
            .group_by(Building.grid_id)
        )).all()
    )
    residents = dict(
        (await session.execute(
            select(User.grid_id, func.count()).where(User.grid_id.in_(grid_ids), User.registered_at.is_not(None))
            .group_by(User.grid_id)
        )).all()
    )
    workers = dict(
        (await session.execute(
            select(RoleGrant.scope_id, func.count(func.distinct(RoleGrant.user_id)))
            .where(RoleGrant.scope_type == ScopeType.grid, RoleGrant.scope_id.in_(grid_ids),
                   RoleGrant.role.in_([Role.worker, Role.grid_head]))
            .group_by(RoleGrant.scope_id)
        )).all()
    )
    rows = (await session.execute(
        select(Grid, Community).join(Community, Grid.community_id == Community.id)
        .where(Grid.id.in_(grid_ids)).order_by(Grid.code)
    )).all()
    return [
        GridSummary(
            grid=i18n_name(g.names, locale, g.code),
            community=i18n_name(c.names, locale, c.code),
            buildings=buildings.get(g.id, 0),
            residents=residents.get(g.id, 0),
            workers=workers.get(g.id, 0),
        )
        for g, c in rows
    ]


async def my_grids(session: AsyncSession, user: User, locale: str) -> list[GridSummary]:
    return await _grid_summaries(session, sorted(access.require_field_worker(user)), locale)


_Scope = TypeVar("_Scope", Community, Department)


async def _scope_rows(session: AsyncSession, model: type[_Scope], ids: set[int]) -> list[_Scope]:
    """The rows of the communities (departments) a user serves, by id; refused when they serve none."""
    if not ids:
        raise NotAllowed()
    rows = [await session.get(model, id_) for id_ in sorted(ids)]
    return [row for row in rows if row is not None]


async def my_communities(session: AsyncSession, user: User, locale: str) -> list[CommunitySummary]:
    result = []
    for community in await _scope_rows(session, Community, access.staff_community_ids(user)):
        grid_ids = list(await session.scalars(select(Grid.id).where(Grid.community_id == community.id, Grid.active)))
        result.append(CommunitySummary(i18n_name(community.names, locale, community.code),
                                       await _grid_summaries(session, grid_ids, locale)))
    return result


async def my_departments(session: AsyncSession, user: User, locale: str) -> list[tuple[str, int]]:
    """(department name, number of officers) for each department of the user."""
    out = []
    for dept in await _scope_rows(session, Department, access.department_ids(user)):
        officers = await session.scalar(
            select(func.count(func.distinct(RoleGrant.user_id))).where(
                RoleGrant.role == Role.department, RoleGrant.scope_id == dept.id)
        )
        out.append((i18n_name(dept.names, locale, dept.code), int(officers or 0)))
    return out


def parse_role(value: str) -> Role:
    """A role named in (possibly forged) callback data."""
    try:
        return Role(value)
    except ValueError:
        raise InvalidInput("stale_button") from None


def invitable_roles(user: User) -> list[Role]:
    allowed: list[Role] = []
    for grant in user.roles:
        for role in INVITABLE.get(grant.role, ()):
            if role not in allowed:
                allowed.append(role)
    return sorted(allowed, key=list(Role).index)


async def invite_scopes(session: AsyncSession, user: User, role: Role, locale: str) -> list[Option]:
    """The scopes ``user`` may invite ``role`` into: only within their own grants
    (an administrator: their districts and the communities and grids in them;
    staff: their communities (volunteers) and the grids, buildings and units in
    them; a grid head: the buildings of their grids, and their units).  Departments belong to no district in the model:
    an administrator may invite officers to any active one."""
    if role not in invitable_roles(user):
        raise NotAllowed()
    districts = list(access.admin_district_ids(user))
    in_districts = select(Community.id).where(Community.district_id.in_(districts))
    scope_type = invites.ROLE_SCOPE[role]
    rows: Iterable[Grid | Community | Department | District]
    if scope_type in (ScopeType.building, ScopeType.unit):
        return await _building_scopes(session, user, scope_type, locale)
    if scope_type == ScopeType.grid:
        communities = list(access.staff_community_ids(user))
        rows = await session.scalars(
            select(Grid).where(Grid.active, or_(Grid.community_id.in_(communities),
                                                Grid.community_id.in_(in_districts)))
            .order_by(Grid.code))
    elif scope_type == ScopeType.community:  # staff: their own communities (volunteers)
        communities = list(access.staff_community_ids(user))
        rows = await session.scalars(select(Community).where(Community.active, or_(
            Community.id.in_(communities), Community.id.in_(in_districts))).order_by(Community.code))
    elif scope_type == ScopeType.department:
        rows = await session.scalars(select(Department).where(Department.active).order_by(Department.code))
    else:
        rows = await session.scalars(select(District).where(District.id.in_(districts)).order_by(District.code))
    return [Option(r.id, r.code, i18n_name(r.names, locale, r.code)) for r in rows][:MAX_SCOPES]


async def _building_scopes(session: AsyncSession, user: User, scope_type: ScopeType, locale: str) -> list[Option]:
    """The buildings (or their units) of the grids ``user`` oversees (as grid head, staff or administrator)."""
    grids = await access.overseen_grid_ids(session, user, districts=True)
    buildings = await session.scalars(select(Building).where(Building.grid_id.in_(grids), Building.active)
                                      .order_by(Building.code).limit(MAX_SCOPES))
    out: list[Option] = []
    for b in buildings:
        name = i18n_name(b.names, locale, b.code)
        if scope_type == ScopeType.building:
            out.append(Option(b.id, b.code, name))
            continue
        out.extend(Option(access.unit_scope_id(b.id, unit), places.unit_code(b.code, unit),
                          places.unit_name(name, unit)) for unit in range(1, (b.units or 1) + 1))
    return out[:MAX_SCOPES]


async def invite_as(
    session: AsyncSession, actor: User, role: Role, scope_id: int, *, expires_in: timedelta = timedelta(days=7)
) -> invites.CreatedInvite:
    """Create an invite on behalf of ``actor``; refuses scopes outside theirs."""
    allowed = await invite_scopes(session, actor, role, "en")
    match = next((o for o in allowed if o.id == scope_id), None)
    if match is None:
        # Either it does not exist or it is outside the actor's communities:
        # the answer is the same so that ids cannot be probed.
        raise NotFound("not_allowed")
    return await invites.create_invite(session, role=role, scope_code=match.code, expires_in=expires_in,
                                       created_by=actor)
