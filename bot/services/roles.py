"""Roles that end: revoking a grant, and what follows from it.

Revoking a role (by the operator's ``python -m bot revoke``, by staff or an
administrator in the bot, or by an ``import-org`` row) deletes the grant,
returns the person's open cases on grids they no longer work to those grids'
queues (:func:`bot.services.cases.return_to_queue`), and writes the access log.
What the person may see follows their current grants on the very next update
(the case owner's capacity included), so their sight of phones ends at once.

Who may revoke in the bot mirrors who may invite (:data:`bot.services.staff.INVITABLE`):
community staff remove grid workers and grid heads of their community's grids,
its volunteers and the heads of its buildings and units (a grid head, who
may invite building and unit heads, asks staff to remove one);
a district administrator removes any role within their district (and department
officers, whom they also invite).  Nobody removes their own roles in the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import audit, cases, places
from bot.services.access import FIELD_ROLES, admin_district_ids, field_grid_ids, staff_community_ids
from bot.services.errors import InvalidInput, NotFound
from bot.services.users import Option
from models import (
    UNIT_FACTOR,
    AccessAction,
    Building,
    Community,
    Grid,
    Role,
    RoleGrant,
    ScopeType,
    User,
)

MAX_LISTED = 60  # people or grants offered as buttons at once


@dataclass(frozen=True, slots=True)
class Revoked:
    role: Role
    scope_type: ScopeType
    scope_code: str
    cases_returned: int = 0


async def _scope_code(session: AsyncSession, grant: RoleGrant) -> str:
    return await places.code_of(session, grant.scope_type, grant.scope_id)


async def _remove(session: AsyncSession, settings: Settings, target: User, grants: list[RoleGrant], *,
                  actor: User | None, how: str, now: datetime) -> list[Revoked]:
    """Delete ``grants`` of ``target``; their open cases on grids they left go back to the queue."""
    if not grants:
        return []
    codes = {g.id: await _scope_code(session, g) for g in grants}
    before = field_grid_ids(target)
    ids = [g.id for g in grants]
    for grant in grants:
        await audit.record_grant(session, AccessAction.role_revoked, grant, actor_id=actor.id if actor else None,
                                 scope_code=codes[grant.id], how=how, at=now)
    await session.execute(delete(RoleGrant).where(RoleGrant.id.in_(ids)).execution_options(synchronize_session=False))
    await session.refresh(target, ["roles"])
    left = before - field_grid_ids(target)  # grids they no longer work
    returned = await cases.return_to_queue(session, settings, target.id, left, now) if left else 0
    out = []
    counted = False
    for grant in sorted(grants, key=lambda g: (list(Role).index(g.role), codes[g.id])):
        # The returned cases are counted once, on the first grid grant that ended.
        here = returned if (not counted and grant.role in FIELD_ROLES and grant.scope_id in left) else 0
        counted = counted or bool(here)
        out.append(Revoked(grant.role, grant.scope_type, codes[grant.id], here))
    return out


async def revoke(session: AsyncSession, settings: Settings, target: User, *, role: Role | None = None,
                 scope_code: str | None = None, how: str, now: datetime) -> list[Revoked]:
    """The operator's revoke: ``target``'s grants of ``role`` on ``scope_code`` (all of
    them when neither is given).  ``NotFound("scope")`` when no place has that code."""
    grants = [g for g in target.roles if role is None or g.role == role]
    if scope_code is not None:
        found = set()
        for scope_type in ScopeType:
            try:
                found.add((scope_type, await places.resolve(session, scope_type, scope_code)))
            except NotFound:
                continue
        if not found:
            raise NotFound("scope")
        grants = [g for g in grants if (g.scope_type, g.scope_id) in found]
    return await _remove(session, settings, target, grants, actor=None, how=how, now=now)


async def revoke_listed(session: AsyncSession, settings: Settings, target: User, removals: list[tuple[Role, int]],
                        *, how: str, now: datetime) -> list[Revoked]:
    """``import-org``'s removals: (role, scope id) pairs; a grant not held is no change."""
    wanted = set(removals)
    grants = [g for g in target.roles if (g.role, g.scope_id) in wanted]
    return await _remove(session, settings, target, grants, actor=None, how=how, now=now)


# ------------------------------------------------------------------ in the bot, within the actor's scope

async def _revocable(session: AsyncSession, actor: User) -> ColumnElement[bool]:
    """The grants ``actor`` may remove, as a condition on :class:`RoleGrant`."""
    communities = set(staff_community_ids(actor))
    districts = admin_district_ids(actor)
    conditions = []
    if districts:
        communities |= set(await session.scalars(select(Community.id).where(Community.district_id.in_(districts))))
        conditions.append(and_(RoleGrant.scope_type == ScopeType.district, RoleGrant.scope_id.in_(districts)))
        conditions.append(RoleGrant.scope_type == ScopeType.department)
        conditions.append(and_(RoleGrant.scope_type == ScopeType.community, RoleGrant.scope_id.in_(communities)))
    if communities:
        grids = select(Grid.id).where(Grid.community_id.in_(communities)).scalar_subquery()
        conditions.append(and_(RoleGrant.scope_type == ScopeType.grid, RoleGrant.role.in_(list(FIELD_ROLES)),
                               RoleGrant.scope_id.in_(grids)))
        # The community's own organisation: its volunteers, the heads of its buildings and units.
        buildings = select(Building.id).where(Building.grid_id.in_(grids)).scalar_subquery()
        conditions.append(and_(RoleGrant.scope_type == ScopeType.community, RoleGrant.role == Role.volunteer,
                               RoleGrant.scope_id.in_(communities)))
        conditions.append(and_(RoleGrant.scope_type == ScopeType.building, RoleGrant.scope_id.in_(buildings)))
        conditions.append(and_(RoleGrant.scope_type == ScopeType.unit,
                               (RoleGrant.scope_id // UNIT_FACTOR).in_(buildings)))
    if not conditions:
        return false()
    return and_(or_(*conditions), RoleGrant.user_id != actor.id)


def _name(user: User) -> str:
    return " ".join(p for p in (user.first_name, user.last_name) if p) or (user.username or str(user.telegram_id))


async def revocable_people(session: AsyncSession, actor: User) -> list[Option]:
    """People holding a role ``actor`` may remove (id, Telegram id as code, name)."""
    rows = await session.scalars(
        select(User).where(User.id.in_(select(RoleGrant.user_id).where(await _revocable(session, actor))))
        .order_by(User.first_name, User.id).limit(MAX_LISTED))
    return [Option(u.id, str(u.telegram_id or ""), _name(u)) for u in rows]


@dataclass(frozen=True, slots=True)
class GrantOption:
    id: int
    role: Role
    scope: str


async def revocable_grants(session: AsyncSession, actor: User, user_id: int, locale: str
                           ) -> tuple[str, list[GrantOption]]:
    """The person's name and the grants ``actor`` may remove; ``NotFound`` when none
    (a person outside the actor's scope answers like one who does not exist)."""
    if not 0 < user_id < 2**63:
        raise InvalidInput("stale_button")
    grants = list(await session.scalars(select(RoleGrant).where(RoleGrant.user_id == user_id,
                                                                await _revocable(session, actor))
                                        .order_by(RoleGrant.id)))
    person = await session.get(User, user_id)
    if not grants or person is None:
        raise NotFound("person")
    out = []
    for g in grants[:MAX_LISTED]:
        out.append(GrantOption(g.id, g.role, await places.name_of(session, g.scope_type, g.scope_id, locale)))
    return _name(person), out


async def revoke_grant(session: AsyncSession, settings: Settings, actor: User, grant_id: int,
                       now: datetime) -> tuple[str, Revoked]:
    """Staff or an administrator removes one grant within their scope (checked here, on every press)."""
    if not 0 < grant_id < 2**63:
        raise InvalidInput("stale_button")
    grant = await session.scalar(select(RoleGrant).where(RoleGrant.id == grant_id, await _revocable(session, actor)))
    if grant is None:
        raise NotFound("person")  # gone, or outside the actor's scope: the same answer
    target = await session.get(User, grant.user_id)
    assert target is not None  # the grant's foreign key
    done = await _remove(session, settings, target, [grant], actor=actor, how="chat", now=now)
    return _name(target), done[0]
