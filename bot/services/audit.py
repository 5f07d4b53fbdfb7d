"""The access log (PIPL's records of processing): who viewed a resident's
phone or a household's care tags, and every role change.

Writing is one INSERT in the caller's transaction (no flush, no read), so the
record exists exactly when the access or the change does.  Staff read their
community's rows, administrators their district's, most recent first.

Plain data in and out; nothing here knows Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, insert, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.services.access import admin_district_ids, split_unit_scope, staff_community_ids
from bot.services.errors import NotAllowed
from models import (
    AccessAction,
    AccessLog,
    Building,
    Community,
    Grid,
    RoleGrant,
    ScopeType,
    User,
    utcnow,
)
from models.direct import DirectStatement

PAGE = 10

# One row per logged access, in the update's transaction: a Core INSERT that
# models.direct hands to sqlite3 itself on SQLite (a fraction of the cost of
# SQLAlchemy's execution path; benchmarks/README.md, "Access log").
_log = AccessLog.__table__
_INSERT = DirectStatement(insert(_log).values({c.key: bindparam(c.key) for c in _log.c if c.key != "id"}))


@dataclass(frozen=True, slots=True)
class Place:
    """Where a logged row belongs, for reading it back by scope."""

    community_id: int | None = None
    district_id: int | None = None


async def place_of(session: AsyncSession, scope_type: ScopeType, scope_id: int) -> Place:
    """The community and district of a place (a grant's scope; departments belong to no district)."""
    if scope_type in (ScopeType.building, ScopeType.unit):
        building_id = split_unit_scope(scope_id)[0] if scope_type == ScopeType.unit else scope_id
        grid_id = await session.scalar(select(Building.grid_id).where(Building.id == building_id))
        if grid_id is None:
            return Place()
        scope_type, scope_id = ScopeType.grid, grid_id
    if scope_type == ScopeType.grid:
        row = (await session.execute(
            select(Grid.community_id, Community.district_id).join(Community, Community.id == Grid.community_id)
            .where(Grid.id == scope_id))).first()
        return Place(row.community_id, row.district_id) if row else Place()
    if scope_type == ScopeType.community:
        return Place(scope_id, await session.scalar(select(Community.district_id).where(Community.id == scope_id)))
    if scope_type == ScopeType.district:
        return Place(None, scope_id)
    return Place()


async def record(session: AsyncSession, action: AccessAction, *, actor_id: int | None, subject_id: int | None,
                 place: Place, object_type: str | None = None, object_id: int | None = None, detail: str = "",
                 at: datetime | None = None) -> None:
    """One row, in the caller's transaction."""
    await _INSERT.run(session, dict(
        at=at or utcnow(), actor_id=actor_id, action=action, subject_id=subject_id, object_type=object_type,
        object_id=object_id, detail=detail[:200], community_id=place.community_id, district_id=place.district_id))


async def record_phones(session: AsyncSession, *, actor_id: int, shown: list[tuple[int, str, int]], place: Place,
                        at: datetime | None = None) -> None:
    """Several residents' phones shown at once (an agenda): ``shown`` holds (resident id,
    object type, object id); one INSERT for all of them."""
    if not shown:
        return
    moment = at or utcnow()
    await session.execute(insert(_log), [
        dict(at=moment, actor_id=actor_id, action=AccessAction.phone_viewed, subject_id=subject, object_type=kind,
             object_id=object_id, detail="", community_id=place.community_id, district_id=place.district_id)
        for subject, kind, object_id in shown])


async def record_grant(session: AsyncSession, action: AccessAction, grant: RoleGrant, *, actor_id: int | None,
                       scope_code: str, how: str, at: datetime | None = None) -> None:
    """A role granted or revoked: ``detail`` reads ``worker@DC-XS-01 (invite)``."""
    await record(session, action, actor_id=actor_id, subject_id=grant.user_id,
                 place=await place_of(session, grant.scope_type, grant.scope_id), object_type="grant",
                 object_id=grant.scope_id, detail=f"{grant.role.value}@{scope_code} ({how})", at=at)


@dataclass(frozen=True, slots=True)
class LogLine:
    at: datetime
    action: AccessAction
    actor: str | None  # name (and Telegram id); None: the operator's command line
    subject: str | None
    object_type: str | None
    object_id: int | None
    detail: str


def _who(user: User | None) -> str | None:
    if user is None:
        return None
    name = " ".join(p for p in (user.first_name, user.last_name) if p) or "?"
    return f"{name} ({user.telegram_id})" if user.telegram_id else name


def may_read(user: User) -> bool:
    return bool(staff_community_ids(user) or admin_district_ids(user))


async def read_log(session: AsyncSession, user: User, *, page: int = 0, per_page: int = PAGE
                   ) -> tuple[list[LogLine], bool]:
    """The rows of ``user``'s scope (staff: their communities; administrators:
    their districts), most recent first; and whether there is an older page."""
    communities, districts = staff_community_ids(user), admin_district_ids(user)
    if not communities and not districts:
        raise NotAllowed()
    page = max(0, min(page, 10_000))
    actor, subject = aliased(User), aliased(User)
    conditions = []
    if communities:
        conditions.append(AccessLog.community_id.in_(sorted(communities)))
    if districts:
        conditions.append(AccessLog.district_id.in_(sorted(districts)))
        conditions.append(AccessLog.community_id.in_(
            select(Community.id).where(Community.district_id.in_(sorted(districts))).scalar_subquery()))
    rows = (await session.execute(
        select(AccessLog, actor, subject)
        .outerjoin(actor, actor.id == AccessLog.actor_id).outerjoin(subject, subject.id == AccessLog.subject_id)
        .where(or_(*conditions)).order_by(AccessLog.id.desc()).offset(page * per_page).limit(per_page + 1))).all()
    lines = [LogLine(row.at, row.action, _who(a), _who(s), row.object_type, row.object_id, row.detail)
             for row, a, s in rows[:per_page]]
    return lines, len(rows) > per_page
