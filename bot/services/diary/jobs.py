"""Recurring jobs of the patrol diary, run by the delivery engine's scheduler.

* ``diary.nudge``: on a workday, at ``DIARY_NUDGE_AT`` (18:00), each grid
  worker with no entry that day is nudged once.
* ``diary.due_list``: on a workday, at ``DIARY_DUE_LIST_AT`` (07:30), each grid
  worker gets the households of their grids due or overdue for a visit.
* ``diary.weekly_summary``: Monday 08:00 (before the weekly grid meeting),
  each grid head gets the past week of each worker of their grid.
* ``diary.close_stale_patrols``: patrols left open longer than
  ``DIARY_PATROL_MAX_HOURS`` are ended (and their worker told).

The two daily times are settings, so those jobs wake every five minutes and
act once the local time has passed theirs (within a three-hour window; the
outbox's dedupe keys make each message once per person and day).  Every
function takes ``now`` (tests call them with an injected clock and read the
outbox).  Workdays are the working calendar's (:func:`is_workday`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.jobs import JobContext, recurring
from bot.services.dates import local_day
from bot.services.diary import texts
from bot.services.diary.common import close_stale, diary_cb
from bot.services.diary.figures import GridFigures, grid_period, overdue_households
from bot.services.diary.households import HouseholdLine, due_in_grids, log_due_list
from bot.services.escape import esc
from bot.services.l10n import Translate, translator
from bot.services.notify import Button, notify, recipient_locale
from bot.services.workcalendar import calendar_for
from models import (
    CareTag,
    DiaryEntry,
    Household,
    OutboxKind,
    Patrol,
    Role,
    RoleGrant,
    ScopeType,
    User,
)

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=3)
DUE_LINES = 30  # households named in one morning message


def parse_time(spec: str) -> time:
    hours, minutes = spec.strip().split(":")
    return time(int(hours), int(minutes))


async def is_workday(session: AsyncSession, settings: Settings, day: date) -> bool:
    """The one workday test of the diary: the working calendar (weekends, public
    holidays, make-up working days), or Monday to Friday if it cannot be read."""
    try:
        calendar = await calendar_for(session, settings, now=datetime.combine(day, time(12), settings.tz))
    except Exception:  # noqa: BLE001 - a broken holidays table must not stop the nudges
        log.exception("diary: the work calendar could not be read; using Monday to Friday")
        return day.weekday() < 5
    return calendar.is_workday(day)


def _in_window(now: datetime, settings: Settings, spec: str) -> date | None:
    """Today's local date if the local time is within the window after ``spec``."""
    local = now.astimezone(settings.tz)
    start = datetime.combine(local.date(), parse_time(spec), settings.tz)
    return local.date() if start <= local < start + WINDOW else None


async def _holders(session: AsyncSession, role: Role) -> dict[int, set[int]]:
    """user id -> grid ids where they hold ``role``."""
    out: dict[int, set[int]] = defaultdict(set)
    for user_id, grid_id in (await session.execute(
            select(RoleGrant.user_id, RoleGrant.scope_id).where(RoleGrant.role == role,
                                                                RoleGrant.scope_type == ScopeType.grid))).all():
        out[user_id].add(grid_id)
    return out


async def _users(session: AsyncSession, ids: set[int]) -> list[User]:
    if not ids:
        return []
    return list(await session.scalars(select(User).where(User.id.in_(ids), User.telegram_id.is_not(None))
                                      .order_by(User.id)))


async def _on_workday(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime, spec: str,
                      send: Callable[[AsyncSession, Settings, date], Awaitable[int]]) -> int:
    """A daily job of workdays: ``send`` once the local time is within the window after
    ``spec`` (in one transaction); how many it reached."""
    today = _in_window(now, settings, spec)
    if today is None:
        return 0
    async with sessionmaker() as session:
        if not await is_workday(session, settings, today):
            return 0
        sent = await send(session, settings, today)
        await session.commit()
    return sent


async def _logged(send: Callable[[async_sessionmaker[AsyncSession], Settings, datetime], Awaitable[int]],
                  ctx: JobContext, message: str) -> None:
    """Run one of the jobs below at the job's time and log how many it reached."""
    count = await send(ctx.sessionmaker, ctx.settings, ctx.now)
    if count:
        log.info(message, count)


# ------------------------------------------------------------------ nudge

def nudge_text(_: Translate) -> str:
    return _("📒 Nothing in your patrol diary today yet. If you walked your grid or visited anyone, "
             "log it now: it takes a few taps.")


async def send_nudges(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> int:
    return await _on_workday(sessionmaker, settings, now, settings.diary_nudge_at, _nudges)


async def _nudges(session: AsyncSession, settings: Settings, today: date) -> int:
    sent = 0
    workers = await _holders(session, Role.worker)
    logged = set(await session.scalars(select(DiaryEntry.worker_id).where(
        DiaryEntry.day == today, DiaryEntry.deleted_at.is_(None)).distinct()))
    for user in await _users(session, set(workers) - logged):
        _ = translator(recipient_locale(user, settings.default_locale))
        if await notify(session, recipient=user, kind=OutboxKind.nudge,
                        dedupe_key=f"diary:nudge:{user.id}:{today.isoformat()}", text=nudge_text(_),
                        buttons=[[Button(_("📒 Patrol diary"), diary_cb("panel"))]]):
            sent += 1
    return sent


@recurring("diary.nudge", every=timedelta(minutes=5))
async def nudge(ctx: JobContext) -> None:
    """Workers with no diary entry on a workday are nudged at DIARY_NUDGE_AT."""
    await _logged(send_nudges, ctx, "diary: nudged %d workers")


# ------------------------------------------------------------------ due list

def due_line(_: Translate, line: HouseholdLine) -> str:
    tags = "".join(texts.TAG_ICONS[t] for t in line.tags)
    place = " ".join(p for p in (line.building, line.unit or "", line.label) if p)
    if line.overdue_days > 0:
        when = _("overdue {days} d").format(days=line.overdue_days)
    else:
        when = _("due today")
    return f"• {tags} {esc(place)} · {when}"


async def send_due_lists(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> int:
    return await _on_workday(sessionmaker, settings, now, settings.diary_due_list_at, _due_lists)


async def _due_lists(session: AsyncSession, settings: Settings, today: date) -> int:
    sent = 0
    recipients = await _holders(session, Role.worker)
    # A grid without a worker: its grid head walks it.
    covered = {g for grids in recipients.values() for g in grids}
    for head, grids in (await _holders(session, Role.grid_head)).items():
        uncovered = grids - covered
        if uncovered:
            recipients[head] = recipients.get(head, set()) | uncovered
    all_grids = {g for grids in recipients.values() for g in grids}
    if not all_grids:
        return 0
    due_any = await session.scalar(select(Household.id).where(
        Household.grid_id.in_(all_grids), Household.active, Household.visit_due_on <= today).limit(1))
    if due_any is None:
        return 0
    by_locale: dict[str, list[HouseholdLine]] = {}
    for user in await _users(session, set(recipients)):
        locale = recipient_locale(user, settings.default_locale)
        if locale not in by_locale:
            by_locale[locale] = await due_in_grids(session, all_grids, today, locale)
        lines = [h for h in by_locale[locale] if h.grid_id in recipients[user.id]]
        if not lines:
            continue
        _ = translator(locale)
        text = _("⏰ Households due for a visit ({count}):").format(count=len(lines))
        text += "\n" + "\n".join(due_line(_, h) for h in lines[:DUE_LINES])
        if len(lines) > DUE_LINES:
            text += "\n" + _("… and {count} more").format(count=len(lines) - DUE_LINES)
        if await notify(session, recipient=user, kind=OutboxKind.nudge,
                        dedupe_key=f"diary:due:{user.id}:{today.isoformat()}", text=text,
                        buttons=[[Button(_("⏰ Households due"), diary_cb("due"))]]):
            await log_due_list(session, user, lines[:DUE_LINES])  # care tags go out in the list
            sent += 1
    return sent


@recurring("diary.due_list", every=timedelta(minutes=5))
async def due_list(ctx: JobContext) -> None:
    """Each workday morning, each worker's households due or overdue for a visit."""
    await _logged(send_due_lists, ctx, "diary: due-visit lists sent to %d workers")


# ------------------------------------------------------------------ weekly summary

def weekly_text(_: Translate, grid: GridFigures, start: date, end: date, overdue: int) -> str:
    lines = [_("📒 Patrol diaries of {grid}, {start} – {end}").format(
        grid=esc(grid.grid), start=start.strftime("%m-%d"), end=(end - timedelta(days=1)).strftime("%m-%d"))]
    for fig in grid.workers:
        lines.append(_("{label}: {value}").format(label=f"<b>{esc(fig.name)}</b>", value=texts.figures_line(_, fig)))
    total = grid.total
    lines.append(_("<b>Grid</b>: {line}").format(line=texts.figures_line(_, total)))
    if total.visits:
        lines.append(_("Visits: {list}").format(list=", ".join(
            f"{texts.tag_label(_, CareTag(k))} {n}" for k, n in sorted(total.visits_by_category.items(),
                                                                      key=lambda kv: list(CareTag).index(CareTag(kv[0]))))))
    lines.append(_("Households overdue for a visit now: {count}").format(count=overdue))
    return "\n".join(lines)


async def send_weekly_summaries(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                                now: datetime) -> int:
    today = local_day(now, settings.tz)
    end = today - timedelta(days=today.weekday())  # this Monday
    start = end - timedelta(days=7)
    sent = 0
    async with sessionmaker() as session:
        heads = await _holders(session, Role.grid_head)
        by_grid: dict[int, list[int]] = defaultdict(list)
        for head, grids in heads.items():
            for grid_id in grids:
                by_grid[grid_id].append(head)
        users = {u.id: u for u in await _users(session, set(heads))}
        for grid_id in sorted(by_grid):
            overdue = (await overdue_households(session, today, [grid_id])).get(grid_id, 0)
            for head_id in by_grid[grid_id]:
                user = users.get(head_id)
                if user is None:
                    continue
                locale = recipient_locale(user, settings.default_locale)
                grid = await grid_period(session, settings, grid_id, start, end, locale)
                _ = translator(locale)
                if await notify(session, recipient=user, kind=OutboxKind.digest,
                                dedupe_key=f"diary:weekly:{grid_id}:{start.isoformat()}:{user.id}",
                                text=weekly_text(_, grid, start, end, overdue),
                                buttons=[[Button(_("👥 Grid diaries"), diary_cb("grid", grid_id))]]):
                    sent += 1
        await session.commit()
    return sent


@recurring("diary.weekly_summary", at=time(8, 0), weekdays={0})
async def weekly_summary(ctx: JobContext) -> None:
    """Monday 08:00: last week's numbers of each worker to their grid head."""
    await _logged(send_weekly_summaries, ctx, "diary: weekly summaries sent to %d grid heads")


# ------------------------------------------------------------------ stale patrols

async def close_stale_patrols(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                              now: datetime) -> int:
    cutoff = now - timedelta(hours=settings.diary_patrol_max_hours)
    closed = 0
    async with sessionmaker() as session:
        patrols = list(await session.scalars(select(Patrol).where(Patrol.ended_at.is_(None),
                                                                  Patrol.started_at <= cutoff).limit(500)))
        for patrol in patrols:
            await close_stale(session, settings, patrol, now)
            worker = await session.get(User, patrol.worker_id)
            if worker is not None:
                _ = translator(recipient_locale(worker, settings.default_locale))
                started = patrol.started_at.astimezone(settings.tz).strftime("%m-%d %H:%M")
                await notify(session, recipient=worker, kind=OutboxKind.nudge, dedupe_key=f"diary:autoend:{patrol.id}",
                             text=_("⏹ Your patrol of {start} was still open, so I ended it. "
                                    "Start a new one when you go out again.").format(start=started),
                             buttons=[[Button(_("📒 Patrol diary"), diary_cb("panel"))]])
            closed += 1
        await session.commit()
    return closed


@recurring("diary.close_stale_patrols", every=timedelta(minutes=10))
async def stale_patrols(ctx: JobContext) -> None:
    await _logged(close_stale_patrols, ctx, "diary: ended %d patrols left open")


async def run_all(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings, now: datetime) -> None:
    """Every diary job once at ``now`` (for the sandbox clock and tests)."""
    ctx = JobContext(sessionmaker=sessionmaker, settings=settings, due_at=now, now=now)
    for job in (stale_patrols, nudge, due_list):
        await job(ctx)
    if local_day(now, settings.tz).weekday() == 0:
        await weekly_summary(ctx)
