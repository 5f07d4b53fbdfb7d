"""Who may act where: the scope chain, the grant lookups and the named predicates.

Every feature asks here, so a rule reads the same in the case loop, the
appointments, the diary, the reports, the broadcasts and the menus.

* **Grants.** A user holds role grants, each scoped to one place:
  ``worker`` and ``grid_head`` to a grid, ``staff`` to a community,
  ``department`` to a department, ``admin`` to a district.
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

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NotAllowed
from models import Community, Grid, Role, User

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


def is_field_worker(user: User | None) -> bool:
    return has_role(user, FIELD_ROLES)


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
