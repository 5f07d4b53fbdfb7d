"""The Monday digest: last week's figures of each community to its staff
(the secretary chairs the weekly grid meeting), through the delivery engine.

``reports.weekly_digest`` runs on Mondays at 07:30 local time (before the
diary's 08:00 summary to grid heads).  Each holder of a staff role of a
community gets one outbox row (``OutboxKind.digest``, dedupe key per
community, week and person, so a rerun queues nothing new): the figures and
their targets, a line per grid, the overdue cases and the households
overdue for a visit.

The outbox sends files by Telegram ``file_id`` only (the engine posts JSON,
it uploads nothing), and a report's files are new bytes each time; so the
digest carries a "📊 Chart and spreadsheet" button, and pressing it makes
the chart, the workbook and the CSV of exactly that week on demand
(``handlers/reports/router.py``; the scope is checked again on the press).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.jobs import JobContext, recurring
from bot.services import cases
from bot.services.dates import local_day
from bot.services.escape import esc
from bot.services.l10n import Translate, Translator, translator
from bot.services.notify import Button, notify, recipient_locale
from bot.services.reports.common import GridRow, Report, Scope, ScopeKind, report_cb
from bot.services.reports.figures import compute
from bot.services.reports.periods import dates_period, period_for
from bot.services.reports.scopes import case_conditions
from bot.services.reports.texts import households_line, open_now_line, pct, summary_lines
from models import Community, Grid, OutboxKind, Role, RoleGrant, ScopeType, User, i18n_name

log = logging.getLogger(__name__)

MAX_GRID_LINES = 25
MAX_OVERDUE_LINES = 10


def grid_line(_: Translate, row: GridRow) -> str:
    f, d = row.figures, row.diary
    return "• " + _("{grid}: received {sent} · closed {closed} ({rate}) · on time {on_time} · rework {rework} · "
                    "visits {visits} · opinions {opinions} · households overdue {overdue}").format(
        grid=f"<b>{esc(row.label)}</b>", sent=f.sent, closed=f.completed, rate=pct(f.completion_rate),
        on_time=pct(f.on_time_rate), rework=pct(f.rework_rate), visits=d.visits, opinions=d.opinions,
        overdue=row.households_overdue)


def digest_text(_: Translator, report: Report, overdue: list[cases.OverdueCase],
                grid_names: dict[int, str], tz_name: str) -> str:
    tz = ZoneInfo(tz_name)
    lines = ["📅 <b>" + esc(_("Last week in {community}: {start} – {end}").format(
        community=report.scope.name, start=f"{report.period.start:%m-%d}", end=f"{report.period.last:%m-%d}"))
        + "</b>", ""]
    # The two snapshots head their lists below: said once, there (they were printed twice).
    heads = {open_now_line(_, report), households_line(_, report)}
    lines += [esc(line) for line in summary_lines(_, report) if line not in heads]
    lines += ["", "<b>" + esc(_("By grid")) + "</b>"]
    lines += [grid_line(_, row) for row in report.by_grid[:MAX_GRID_LINES]]
    if len(report.by_grid) > MAX_GRID_LINES:
        lines.append(esc(_("… and {count} more").format(count=len(report.by_grid) - MAX_GRID_LINES)))
    lines += ["", "<b>" + esc(open_now_line(_, report)) + "</b>"]
    for c in overdue:
        what = _("not accepted since {time}") if c.status.value == "new" else _("due {time}")
        lines.append("• " + esc(f"{c.number} · {grid_names.get(c.grid_id, '')} · "
                                        + what.format(time=c.due_at.astimezone(tz).strftime("%m-%d %H:%M"))))
    if report.overdue_cases > len(overdue):
        lines.append(esc(_("… and {count} more").format(count=report.overdue_cases - len(overdue))))
    overdue_grids = [r for r in report.by_grid if r.households_overdue]
    lines += ["", "<b>" + esc(households_line(_, report)) + "</b>"]
    lines += ["• " + esc(f"{r.label}: {r.households_overdue}") for r in overdue_grids[:MAX_GRID_LINES]]
    return "\n".join(lines)


async def _secretaries(session: AsyncSession) -> dict[int, list[User]]:
    """community id -> its staff who can be reached on Telegram."""
    rows = (await session.execute(
        select(RoleGrant.scope_id, User).join(User, User.id == RoleGrant.user_id)
        .where(RoleGrant.role == Role.staff, RoleGrant.scope_type == ScopeType.community,
               User.telegram_id.is_not(None)).order_by(RoleGrant.scope_id, User.id))).all()
    out: dict[int, list[User]] = defaultdict(list)
    for community_id, user in rows:
        out[community_id].append(user)
    return out


async def send_weekly_digests(sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                              now: datetime) -> int:
    """Last week's digest (Monday to Sunday before ``now``) to every community's staff."""
    period = period_for("lw", local_day(now, settings.tz))
    files_period = dates_period(period.start, period.last).code  # fixed dates: the button stays right
    sent = 0
    async with sessionmaker() as session:
        recipients = await _secretaries(session)
        for community_id in sorted(recipients):
            community = await session.get(Community, community_id)
            if community is None:
                continue
            by_locale: dict[str, str] = {}
            for user in recipients[community_id]:
                locale = recipient_locale(user, settings.default_locale)
                _ = translator(locale)
                if locale not in by_locale:
                    scope = Scope(ScopeKind.community, community.id, community.code,
                                          i18n_name(community.names, locale, community.code))
                    report = await compute(session, settings, scope, period, locale, now)
                    conds = case_conditions(scope)
                    overdue = await cases.overdue_cases(session, now, conds, limit=MAX_OVERDUE_LINES)
                    grid_names = {g.id: i18n_name(g.names, locale, g.code) for g in await session.scalars(
                        select(Grid).where(Grid.community_id == community.id))}
                    by_locale[locale] = digest_text(_, report, overdue, grid_names, settings.display_tz)
                if await notify(session, recipient=user, kind=OutboxKind.digest,
                                dedupe_key=f"reports:weekly:{community_id}:{period.start.isoformat()}:{user.id}",
                                text=by_locale[locale],
                                buttons=[[Button(_("📊 Chart and spreadsheet"), report_cb(
                                    "files", ScopeKind.community.value, community_id, files_period))]]):
                    sent += 1
        await session.commit()
    return sent


@recurring("reports.weekly_digest", at=time(7, 30), weekdays={0})
async def weekly_digest(ctx: JobContext) -> None:
    """Monday 07:30: last week's figures to each community's secretary."""
    sent = await send_weekly_digests(ctx.sessionmaker, ctx.settings, ctx.now)
    if sent:
        log.info("reports: weekly digests queued for %d staff", sent)
