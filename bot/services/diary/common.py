"""Shared plumbing of the patrol diary: the household visit clock, who may
read an entry, the end of a stale patrol, and the callback data services put
on buttons.  What both the writing side (:mod:`.entries`) and the recurring
jobs (:mod:`.jobs`) need lives here, so neither imports the other.

Permission model (checked on every call, buttons included; the grant lookups
are :mod:`bot.services.access`, local days :mod:`bot.services.dates`):

* grid workers and grid heads log their own diary (patrols and entries) in
  the grids they hold a role in; only the author changes an entry;
* a grid head sees the diaries of their grids (every entry logged in them);
* community staff see the diaries of their community's grids;
* nobody else sees anything: an entry one may not see answers exactly like
  an entry that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import FIELD_ROLES, overseen_grid_ids
from bot.services.dates import local_day
from bot.services.errors import NotFound
from bot.services.media import SentFile
from models import (
    DiaryEntry,
    DiaryMediaKind,
    EntryKind,
    Household,
    HouseholdTag,
    Patrol,
    PatrolEnd,
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
# layout aiogram's CallbackData packs for handlers.diary.ui.DiaryCb.
DIARY_CB = "dy"


def diary_cb(action: str, id_: int = 0, ref: int = 0, arg: str = "") -> str:
    return f"{DIARY_CB}:{action}:{id_}:{ref}:{arg}"


class MediaRef(SentFile[DiaryMediaKind]):
    """A file (Telegram's ids, never the bytes) or a location sent with an entry."""

    __slots__ = ()


async def field_workers_of(session: AsyncSession, grid_ids: Iterable[int]) -> dict[int, set[int]]:
    """user id -> the grids (of ``grid_ids``) where they are a worker or grid head."""
    ids = list(grid_ids)
    out: dict[int, set[int]] = {}
    if not ids:
        return out
    rows = await session.execute(
        select(RoleGrant.user_id, RoleGrant.scope_id).where(
            RoleGrant.role.in_(FIELD_ROLES), RoleGrant.scope_type == ScopeType.grid,
            RoleGrant.scope_id.in_(ids)))
    for user_id, grid_id in rows.all():
        out.setdefault(user_id, set()).add(grid_id)
    return out


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
        last = last.replace(tzinfo=UTC)
    intervals = list(await session.scalars(select(HouseholdTag.interval_days)
                                           .where(HouseholdTag.household_id == household_id)))
    household.last_visit_at = last
    household.visit_due_on = compute_due(last, intervals, tz, household.visit_due_on, today)
    await session.flush()


# ------------------------------------------------------------------ what both the writing side and the jobs need

async def visible_entry(session: AsyncSession, viewer: User, entry_id: int) -> DiaryEntry:
    """The entry if ``viewer`` may read it (its author, or someone overseeing its
    grid); else ``NotFound("entry")``, exactly as if it did not exist."""
    entry = await session.get(DiaryEntry, entry_id)
    if entry is None or (entry.worker_id != viewer.id
                         and entry.grid_id not in await overseen_grid_ids(session, viewer)):
        raise NotFound("entry")
    return entry


def max_patrol_age(settings: Settings) -> timedelta:
    return timedelta(hours=settings.diary_patrol_max_hours)


async def _last_activity(session: AsyncSession, patrol: Patrol) -> datetime:
    last_entry = await session.scalar(select(func.max(DiaryEntry.occurred_at)).where(DiaryEntry.patrol_id == patrol.id))
    moments = [m for m in (patrol.started_at, last_entry, patrol.last_location_at) if m is not None]
    return max(moments)


async def close_stale(session: AsyncSession, settings: Settings, patrol: Patrol, now: datetime) -> None:
    """End a patrol nobody ended: at its last sign of activity, capped at the maximum length."""
    end = min(await _last_activity(session, patrol), patrol.started_at + max_patrol_age(settings), now)
    patrol.ended_at = max(end, patrol.started_at)
    patrol.end_reason = PatrolEnd.auto
