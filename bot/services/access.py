"""Who may act where: the scope chain, the grant lookups and the named predicates.

Every feature asks here, so a rule reads the same in the case loop, the
appointments, the diary, the reports, the broadcasts and the menus.

* **Grants.** A user holds role grants, each scoped to one place:
  ``worker`` and ``grid_head`` to a grid, ``staff`` to a community,
  ``department`` to a department, ``admin`` to a district; the district's
  own organisation: ``building_head`` to a building, ``unit_head`` to one
  unit of a building (scope id ``building id * UNIT_FACTOR + unit``),
  ``volunteer`` to a community.  Heads and volunteers oversee nothing: they
  act only where :func:`heads_home` / :func:`volunteer_community_ids` say.
* **The scope chain.** District → community → grid → building.  A grant on a
  wider scope reaches everything below it, for the roles that oversee
  (:func:`oversees`): an administrator their district's communities and
  grids, staff their community's grids, a grid head their grid.
* **Predicates.** Named once, used everywhere: :func:`is_field_worker`
  (walks patrols: worker or grid head), :func:`is_worker_side` (works cases
  for residents: worker, grid head, staff, admin), :func:`may_oversee`
  (reports and broadcasts: admin, staff, grid head).

Plain data in and out; nothing here knows Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NotAllowed
from models import UNIT_FACTOR, Community, Grid, Role, RoleGrant, ScopeType, User

HEAD_ROLES = frozenset({Role.building_head, Role.unit_head})
FIELD_ROLES = frozenset({Role.worker, Role.grid_head})
WORKER_SIDE_ROLES = frozenset({Role.worker, Role.grid_head, Role.staff, Role.admin})
OVERSEEING_ROLES = frozenset({Role.admin, Role.staff, Role.grid_head})


def grants(user: User, *roles: Role) -> set[int]:
    """The scope ids of ``user``'s grants of any of ``roles``."""
    return {g.scope_id for g in user.roles if g.role in roles}


def has_role(user: User | None, roles: frozenset[Role]) -> bool:
    return user is not None and any(g.role in roles for g in user.roles)


def field_grid_ids(user: User) -> set[int]:
    """Grids where ``user`` walks patrols and works cases (grid worker or grid head)."""
    return grants(user, Role.worker, Role.grid_head)


def head_grid_ids(user: User) -> set[int]:
    return grants(user, Role.grid_head)


def staff_community_ids(user: User) -> set[int]:
    return grants(user, Role.staff)


def admin_district_ids(user: User) -> set[int]:
    return grants(user, Role.admin)


def department_ids(user: User) -> set[int]:
    return grants(user, Role.department)


def unit_scope_id(building_id: int, unit: int) -> int:
    """The scope id of a unit of a building (``models.users.ScopeType.unit``)."""
    return building_id * UNIT_FACTOR + unit


def split_unit_scope(scope_id: int) -> tuple[int, int]:
    """(building id, unit) of a unit scope id."""
    return divmod(scope_id, UNIT_FACTOR)


def headed(user: User | None) -> dict[int, frozenset[int] | None]:
    """The buildings ``user`` heads: building id → ``None`` (the whole building,
    as building head) or the units they head in it (as unit head)."""
    out: dict[int, frozenset[int] | None] = {}
    if user is None:
        return out
    for grant in user.roles:
        if grant.role == Role.building_head:
            out[grant.scope_id] = None
    for grant in user.roles:
        if grant.role == Role.unit_head:
            building_id, unit = split_unit_scope(grant.scope_id)
            if building_id in out and out[building_id] is None:
                continue
            out[building_id] = frozenset({*(out.get(building_id) or ()), unit})
    return out


def head_building_ids(user: User) -> set[int]:
    """Buildings where ``user`` is building head or a unit head."""
    return set(headed(user))


def heads_home(user: User, building_id: int | None, unit: int | None) -> bool:
    """``user`` heads the home at ``building_id`` (and ``unit``): its building head, or
    the head of that very unit (a unit head does not reach a neighbour whose unit is unknown)."""
    if building_id is None:
        return False
    places = headed(user)
    if building_id not in places:
        return False
    units = places[building_id]
    return units is None or (unit is not None and unit in units)


def homes_reached(user: User) -> ColumnElement[bool] | None:
    """A condition on ``User``: the people whose homes ``user`` reaches (in the grids they work,
    in the buildings and units they head); None when they reach nobody's."""
    places: list[ColumnElement[bool]] = []
    if grids := field_grid_ids(user):
        places.append(User.grid_id.in_(sorted(grids)))
    for building_id, units in headed(user).items():
        places.append(User.building_id == building_id if units is None
                      else and_(User.building_id == building_id, User.unit.in_(sorted(units))))
    return or_(*places) if places else None


def is_head(user: User | None) -> bool:
    return has_role(user, HEAD_ROLES)


def volunteer_community_ids(user: User) -> set[int]:
    return grants(user, Role.volunteer)


def is_field_worker(user: User | None) -> bool:
    return has_role(user, FIELD_ROLES)


def field_team_ids(grid_ids: Any) -> Select[tuple[int]]:
    """SQL: the ids of the workers and grid heads of ``grid_ids`` (ids, or a subquery of them)."""
    return select(RoleGrant.user_id).where(RoleGrant.role.in_(sorted(FIELD_ROLES)),
                                           RoleGrant.scope_type == ScopeType.grid, RoleGrant.scope_id.in_(grid_ids))


def require_field_worker(user: User) -> set[int]:
    """The grids ``user`` works in; ``NotAllowed`` when none."""
    grids = field_grid_ids(user)
    if not grids:
        raise NotAllowed()
    return grids


def is_worker_side(user: User | None) -> bool:
    return has_role(user, WORKER_SIDE_ROLES)


def may_oversee(user: User | None) -> bool:
    """Reads reports and sends notices for some scope (administrator, staff, grid head)."""
    return has_role(user, OVERSEEING_ROLES)


@dataclass(frozen=True, slots=True)
class ScopeChain:
    """A place and the scopes above it (``None`` above the place itself)."""

    district_id: int
    community_id: int | None = None
    grid_id: int | None = None


async def chain_of_grid(session: AsyncSession, grid_id: int) -> ScopeChain | None:
    row = (await session.execute(
        select(Community.district_id, Grid.community_id).join(Community, Community.id == Grid.community_id)
        .where(Grid.id == grid_id))).first()
    return ScopeChain(row.district_id, row.community_id, grid_id) if row is not None else None


async def chain_of_community(session: AsyncSession, community_id: int) -> ScopeChain | None:
    district_id = await session.scalar(select(Community.district_id).where(Community.id == community_id))
    return ScopeChain(district_id, community_id) if district_id is not None else None


def oversees(user: User, chain: ScopeChain) -> bool:
    """``user`` oversees the place: administrator of its district, staff of its
    community, or grid head of its grid."""
    return (chain.district_id in admin_district_ids(user)
            or (chain.community_id is not None and chain.community_id in staff_community_ids(user))
            or (chain.grid_id is not None and chain.grid_id in head_grid_ids(user)))


async def overseen_grid_ids(session: AsyncSession, user: User, *, districts: bool = False) -> set[int]:
    """Grids ``user`` oversees as grid head or community staff (and, with
    ``districts``, as administrator of their district)."""
    grids = set(head_grid_ids(user))
    communities = staff_community_ids(user)
    if communities:
        grids |= set(await session.scalars(select(Grid.id).where(Grid.community_id.in_(communities))))
    if districts and (district_ids := admin_district_ids(user)):
        grids |= set(await session.scalars(
            select(Grid.id).join(Community, Community.id == Grid.community_id)
            .where(Community.district_id.in_(district_ids))))
    return grids
