"""Shared plumbing of the patrol diary: who may see and do what, local days,
the household visit clock, and the callback data services put on buttons.

Permission model (checked on every call, buttons included):

* grid workers and grid heads log their own diary (patrols and entries) in
  the grids they hold a role in; only the author changes an entry;
* a grid head sees the diaries of their grids (every entry logged in them);
* community staff see the diaries of their community's grids;
* nobody else sees anything: an entry one may not see answers exactly like
  an entry that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import NotAllowed
from models import (
    DiaryEntry,
    DiaryMediaKind,
    EntryKind,
    Grid,
    Household,
    HouseholdTag,
    Role,
    RoleGrant,
    ScopeType,
    User,
)

MAX_TEXT = 3000  # characters of text on one entry
MAX_NAME = 64  # a resident's name on an opinion
MAX_UNIT = 32
MAX_ATTACHMENTS = 20
MAX_LABEL = 100  # a household's label
COMPOSE_MINUTES = 10  # messages right after an entry is started are added to it
FRESH_LOCATION = timedelta(minutes=30)  # a patrol's last location still says where a problem is

# Visit intervals offered in the bot (and their import names), in days.
INTERVALS: tuple[int, ...] = (7, 14, 30, 91)

# Callback data of diary buttons written by services into outbox rows: the
# layout aiogram's CallbackData packs for handlers.callbacks.DiaryCb.
DIARY_CB = "dy"


def diary_cb(action: str, id_: int = 0, ref: int = 0, arg: str = "") -> str:
    return f"{DIARY_CB}:{action}:{id_}:{ref}:{arg}"


@dataclass(frozen=True, slots=True)
class MediaRef:
    """A file (Telegram's ids, never the bytes) or a location sent with an entry."""

    kind: DiaryMediaKind
    file_id: str | None = None
    file_unique_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def html_escape(text: str | None) -> str:
    return html.escape(text or "")


def _grants(user: User, *roles: Role) -> set[int]:
    return {g.scope_id for g in user.roles if g.role in roles}


def field_grid_ids(user: User) -> set[int]:
    """Grids where ``user`` walks patrols (grid worker or grid head)."""
    return _grants(user, Role.worker, Role.grid_head)


def head_grid_ids(user: User) -> set[int]:
    return _grants(user, Role.grid_head)


def staff_community_ids(user: User) -> set[int]:
    return _grants(user, Role.staff)


def is_field_worker(user: User | None) -> bool:
    return user is not None and bool(field_grid_ids(user))


def require_field_worker(user: User) -> set[int]:
    grids = field_grid_ids(user)
    if not grids:
        raise NotAllowed()
    return grids


async def overseen_grid_ids(session: AsyncSession, viewer: User) -> set[int]:
    """Grids whose diaries ``viewer`` oversees: as grid head, or as community staff."""
    grids = set(head_grid_ids(viewer))
    communities = staff_community_ids(viewer)
    if communities:
        grids |= set(await session.scalars(select(Grid.id).where(Grid.community_id.in_(communities))))
    return grids


async def field_workers_of(session: AsyncSession, grid_ids: Iterable[int]) -> dict[int, set[int]]:
    """user id -> the grids (of ``grid_ids``) where they are a worker or grid head."""
    ids = list(grid_ids)
    out: dict[int, set[int]] = {}
    if not ids:
        return out
    rows = await session.execute(
        select(RoleGrant.user_id, RoleGrant.scope_id).where(
            RoleGrant.role.in_([Role.worker, Role.grid_head]), RoleGrant.scope_type == ScopeType.grid,
            RoleGrant.scope_id.in_(ids)))
    for user_id, grid_id in rows.all():
        out.setdefault(user_id, set()).add(grid_id)
    return out


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def day_bounds(start: date, end: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) local days as aware datetimes."""
    return (datetime.combine(start, datetime.min.time(), tz), datetime.combine(end, datetime.min.time(), tz))


def compute_due(last_visit: datetime | None, intervals: Iterable[int], tz: ZoneInfo, current: date | None,
                today: date) -> date | None:
    """The local date by which a household is next due for a visit.

    The shortest interval of its tags counts from the day of the last visit;
    a household never visited is due from the day it first asked for visits.
    """
    shortest = min(intervals, default=None)
    if shortest is None:
        return None
    if last_visit is None:
        return current if current is not None and current <= today else today
    return local_day(last_visit, tz) + timedelta(days=shortest)


async def refresh_household(session: AsyncSession, household_id: int, tz: ZoneInfo, today: date) -> None:
    """Recompute a household's last visit (from its visits that stand) and due date."""
    household = await session.get(Household, household_id)
    if household is None:
        return
    await session.flush()
    last = await session.scalar(select(func.max(DiaryEntry.occurred_at)).where(
        DiaryEntry.household_id == household_id, DiaryEntry.kind == EntryKind.visit,
        DiaryEntry.deleted_at.is_(None)))
    if last is not None and last.tzinfo is None:  # func.max bypasses the column type on SQLite
        from datetime import UTC

        last = last.replace(tzinfo=UTC)
    intervals = list(await session.scalars(select(HouseholdTag.interval_days)
                                           .where(HouseholdTag.household_id == household_id)))
    household.last_visit_at = last
    household.visit_due_on = compute_due(last, intervals, tz, household.visit_due_on, today)
    await session.flush()
