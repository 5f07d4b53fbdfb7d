"""Who the sandbox lets you be: the people of the configured organisation.

Each persona shows who serves whom: a resident her grid's workers, a worker or
grid head the number of residents of their grids (trainers see the roles' links
at a glance).  Personas are read from the database (``users`` with a Telegram id, their
``role_grants`` and home building), never from the demo YAML, so a district
imported with ``python -m bot import-org`` shows its own people.  A "new
resident" gets a fresh Telegram id that no user of the database has.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import places as scopes
from models import Building, Community, Grid, Role, RoleGrant, ScopeType, User

__all__ = [
    "KIND_ORDER",
    "NEW_ID_FIRST",
    "NEW_ID_LAST",
    "Persona",
    "list_personas",
    "load_persona",
    "next_free_telegram_id",
    "places",
]

# The order personas are listed in (a person with several roles is listed once,
# under the highest).  "resident": has a home building; "unregistered": neither
# a role nor a home yet (a new resident who has not finished registering).
KIND_ORDER = ("resident", "worker", "grid_head", "staff", "department", "admin", "building_head", "unit_head",
              "volunteer", "unregistered")  # as the page's app.js groups them
_ROLE_RANK = (Role.admin, Role.staff, Role.department, Role.grid_head, Role.worker, Role.building_head,
              Role.unit_head, Role.volunteer)

# Telegram ids handed to new residents: above the emulator's own counter start,
# below the demo district's fixed ids (7000000001...).
NEW_ID_FIRST = 100_000_001
NEW_ID_LAST = 6_999_999_999


@dataclass(slots=True)
class Persona:
    telegram_id: int
    first_name: str
    last_name: str | None
    username: str | None
    locale: str | None
    phone: str | None
    kind: str
    registered: bool
    roles: list[dict[str, Any]] = field(default_factory=list)
    """``{"role", "scope_type", "scope_code", "scope_names"}`` per grant."""
    home: dict[str, Any] | None = None
    """``{"building": names, "grid": names, "community": names, "building_code"}``."""
    served_by: list[str] = field(default_factory=list)
    """A resident's grid workers and grid heads (their names): who answers her."""
    serves: int | None = None
    """A worker's or grid head's residents (registered, in their grids): whom they answer."""

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _kind(user: User) -> str:
    granted = {g.role for g in user.roles}
    for role in _ROLE_RANK:
        if role in granted:
            return role.value
    return "resident" if user.building_id is not None else "unregistered"


async def _scope_names(session: AsyncSession, users: list[User]) -> dict[tuple[ScopeType, int], Any]:
    found: dict[tuple[ScopeType, int], Any] = {}
    for user in users:
        for grant in user.roles:
            key = (grant.scope_type, grant.scope_id)
            if key not in found:
                row = await scopes.row_of(session, grant.scope_type, grant.scope_id)
                found[key] = (await scopes.code_of(session, *key), row.names or {} if row is not None else {})
    return found


async def _homes(session: AsyncSession, building_ids: set[int]) -> dict[int, dict[str, Any]]:
    if not building_ids:
        return {}
    rows = await session.execute(
        select(Building.id, Building.code, Building.names, Grid.names, Community.names)
        .join(Grid, Grid.id == Building.grid_id)
        .join(Community, Community.id == Grid.community_id)
        .where(Building.id.in_(building_ids))
    )
    return {
        bid: {"building_code": code, "building": b or {}, "grid": g or {}, "community": c or {}}
        for bid, code, b, g, c in rows
    }


_FIELD_ROLES = (Role.worker, Role.grid_head)


async def _serving(session: AsyncSession, users: list[User]) -> tuple[dict[int, list[str]], dict[int, int]]:
    """Who serves whom, per grid: the names of its workers and heads, and its residents' count."""
    home_grids = {u.grid_id for u in users if u.grid_id is not None and not u.roles}
    field_grids = {g.scope_id for u in users for g in u.roles if g.role in _FIELD_ROLES}
    team: dict[int, list[str]] = {}
    if home_grids:
        rows = await session.execute(
            select(RoleGrant.scope_id, User.first_name).join(User, User.id == RoleGrant.user_id)
            .where(RoleGrant.role.in_(_FIELD_ROLES), RoleGrant.scope_type == ScopeType.grid,
                   RoleGrant.scope_id.in_(home_grids))
            .order_by(RoleGrant.scope_id, RoleGrant.role, User.telegram_id))
        for grid_id, name in rows:
            if name not in team.setdefault(grid_id, []):
                team[grid_id].append(name)
    counts: dict[int, int] = {}
    if field_grids:
        rows = await session.execute(
            select(User.grid_id, func.count()).where(User.grid_id.in_(field_grids), User.registered_at.is_not(None),
                                                     ~User.roles.any())
            .group_by(User.grid_id))
        counts = {grid_id: int(n) for grid_id, n in rows}
    return team, counts


async def _personas(session: AsyncSession, users: list[User]) -> list[Persona]:
    scopes = await _scope_names(session, users)
    homes = await _homes(session, {u.building_id for u in users if u.building_id is not None})
    team, counts = await _serving(session, users)
    result = []
    for user in users:
        assert user.telegram_id is not None
        roles = []
        for grant in sorted(user.roles, key=lambda g: (_ROLE_RANK.index(g.role), g.scope_id)):
            code, names = scopes.get((grant.scope_type, grant.scope_id), ("?", {}))
            roles.append(
                {
                    "role": grant.role.value,
                    "scope_type": grant.scope_type.value,
                    "scope_code": code,
                    "scope_names": names,
                }
            )
        result.append(
            Persona(
                telegram_id=user.telegram_id,
                first_name=user.first_name or "",
                last_name=user.last_name,
                username=user.username,
                locale=user.locale,
                phone=user.phone,
                kind=_kind(user),
                registered=user.registered_at is not None or bool(user.roles),
                roles=roles,
                home=homes.get(user.building_id) if user.building_id is not None else None,
                served_by=team.get(user.grid_id, []) if user.grid_id is not None and not user.roles else [],
                serves=sum(counts.get(gid, 0) for gid in {g.scope_id for g in user.roles if g.role in _FIELD_ROLES})
                if any(g.role in _FIELD_ROLES for g in user.roles) else None,
            )
        )
    return result


async def list_personas(session: AsyncSession, *, max_residents: int = 200) -> tuple[list[Persona], int]:
    """Everyone with a role, plus up to ``max_residents`` residents (newest first).

    Returns the personas in :data:`KIND_ORDER` order and the total number of
    people without a role (a real district has far more than a page can list).
    """
    staff = (
        await session.scalars(
            select(User).where(User.telegram_id.is_not(None), User.roles.any()).order_by(User.telegram_id)
        )
    ).all()
    residents_q = select(User).where(User.telegram_id.is_not(None), ~User.roles.any())
    residents = (
        await session.scalars(residents_q.order_by(User.created_at.desc(), User.id.desc()).limit(max_residents))
    ).all()
    total = await session.scalar(select(func.count()).select_from(residents_q.subquery())) or 0
    personas = await _personas(session, [*staff, *residents])
    personas.sort(key=lambda p: (KIND_ORDER.index(p.kind), p.telegram_id))
    return personas, int(total)


async def load_persona(session: AsyncSession, telegram_id: int) -> Persona | None:
    user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
    if user is None:
        return None
    return (await _personas(session, [user]))[0]


async def next_free_telegram_id(session: AsyncSession, taken: set[int]) -> int:
    """A Telegram id for a new resident that neither the database nor ``taken`` uses."""
    highest = await session.scalar(
        select(func.max(User.telegram_id)).where(User.telegram_id.between(NEW_ID_FIRST, NEW_ID_LAST))
    )
    candidate = max([NEW_ID_FIRST - 1, int(highest or 0), *(t for t in taken if t <= NEW_ID_LAST)]) + 1
    if candidate > NEW_ID_LAST:
        raise RuntimeError("no free sandbox Telegram id left")
    return candidate


async def places(session: AsyncSession) -> list[dict[str, Any]]:
    """Buildings with coordinates, for the page's location picker."""
    rows = await session.execute(
        select(Building.code, Building.names, Building.latitude, Building.longitude, Grid.names)
        .join(Grid, Grid.id == Building.grid_id)
        .where(Building.active, Building.latitude.is_not(None), Building.longitude.is_not(None))
        .order_by(Building.code)
        .limit(2000)
    )
    return [
        {"code": code, "names": names or {}, "latitude": lat, "longitude": lon, "grid": grid or {}}
        for code, names, lat, lon, grid in rows
    ]
