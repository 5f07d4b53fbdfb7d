"""Staff reports: completion, on-time completion, rework, satisfaction, grid work
and appointments for a district, a community or a grid over a period.

* Who may see what: :mod:`bot.services.reports.scopes` (checked on every call).
* Periods: :mod:`bot.services.reports.periods` (local calendar days).
* The figures: cases from :mod:`bot.services.cases.figures`, the patrol
  diary from :mod:`bot.services.diary.figures`, appointments defined here.
  Their exact definitions are in ``docs/metrics.md``.
* Rendering: :func:`bot.services.reports.texts.summary_text` (the chat
  summary), :mod:`bot.services.reports.files` (chart, workbook and CSV); the
  Monday digest to community secretaries is in :mod:`bot.services.reports.jobs`.

Nothing here knows Telegram; labels come in the reader's language through
:func:`bot.services.l10n.translator`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause

from bot.config import Settings
from bot.services import cases, consultations, events, org
from bot.services import diary as diary_figures
from bot.services.cases import status_label
from bot.services.dates import local_day
from bot.services.diary import DiaryFigures, field_workers_of
from bot.services.l10n import translator
from bot.services.reports.common import (
    AppointmentFigures,
    CaseLine,
    CommentLine,
    GridRow,
    Report,
    Row,
    Scope,
    ScopeKind,
    WorkerRow,
    targets_for,
)
from bot.services.reports.periods import Period, parse_dates, period_for, trend_bounds
from bot.services.reports.scopes import (
    appointment_conditions,
    case_conditions,
    grid_ids_of,
    resolve_scope,
)
from models import (
    Appointment,
    AppointmentStatus,
    Case,
    CaseStatus,
    CloseReason,
    Community,
    Grid,
    ServiceItem,
    Station,
    User,
    i18n_name,
)


async def build(session: AsyncSession, settings: Settings, user: User, kind: str, scope_id: int,
                period_code: str | None, locale: str, now: datetime, *, dates: str | None = None) -> Report:
    """The report ``user`` asked for: scope and period from (possibly forged) input,
    the period as a code (a button) or as typed ``dates``."""
    scope = await resolve_scope(session, user, kind, scope_id, locale)
    today = local_day(now, settings.tz)
    period = parse_dates(dates, today) if dates is not None else period_for(period_code or "", today)
    return await compute(session, settings, scope, period, locale, now)


async def _names(session: AsyncSession, model: Any, ids: set[int], locale: str) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(model.id, model.code, model.names).where(model.id.in_(ids)))
    return {i: i18n_name(names, locale, code) for i, code, names in rows.all()}


async def _people(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.first_name, User.last_name).where(User.id.in_(ids)))
    return {i: " ".join(p for p in (first, last) if p) or f"#{i}" for i, first, last in rows.all()}


async def appointment_figures(session: AsyncSession, conditions: list[ColumnElement[bool]], start: date,
                              end: date, today: date) -> dict[int, AppointmentFigures]:
    """Appointments for the local days [start, end), per station (one GROUP BY)."""
    status = Appointment.status
    past = case((Appointment.day < today, 1), else_=0)
    rows = (await session.execute(
        select(Appointment.station_id, status, past.label("past"), func.count(), func.sum(
            case((Appointment.proxy.is_(True), 1), else_=0)))
        .where(Appointment.day >= start, Appointment.day < end, *conditions)
        .group_by(Appointment.station_id, status, past))).all()
    out: dict[int, AppointmentFigures] = {}
    for station_id, st, is_past, n, proxy in rows:
        fig = out.setdefault(station_id, AppointmentFigures())
        st = AppointmentStatus(st)
        if st == AppointmentStatus.cancelled:
            fig.cancelled += n
            continue
        fig.booked += n
        fig.proxy += int(proxy or 0)
        if st == AppointmentStatus.attended:
            fig.attended += n
        elif st == AppointmentStatus.no_show:
            fig.no_show += n
        elif is_past:
            fig.unmarked += n
        else:
            fig.upcoming += n
    return out


async def case_lines(session: AsyncSession, f: FromClause, where: Sequence[ColumnElement[bool]],
                     locale: str) -> list[CaseLine]:
    """The cohort's cases (rows of the facts ``f``), each with the facts its figures were counted from."""
    rows = (await session.execute(
        select(Case.number, Case.status, Case.close_reason, f.c.submitted_at, f.c.completed, f.c.withdrawn, f.c.on_time, f.c.reworked,
               f.c.emergency, f.c.score, f.c.accept_s, f.c.close_s, Grid.code.label("grid_code"),
               Grid.names.label("grid_names"), ServiceItem.code.label("service_code"),
               ServiceItem.names.label("service_names"), User.first_name.label("first"),
               User.last_name.label("last"), f.c.comment)
        .join(Case, Case.id == f.c.case_id).join(Grid, Grid.id == f.c.grid_id)
        .outerjoin(ServiceItem, ServiceItem.id == f.c.service_id).outerjoin(User, User.id == f.c.owner_id)
        .where(*where).order_by(f.c.submitted_at, Case.id))).all()
    _ = translator(locale)
    free = _("Free requests (no catalogue item)")
    return [CaseLine(
        number=r.number or "", submitted_at=r.submitted_at,
        category=i18n_name(r.service_names, locale, r.service_code) if r.service_code else free,
        grid=i18n_name(r.grid_names, locale, r.grid_code), worker=" ".join(p for p in (r.first, r.last) if p),
        status=status_label(_, CaseStatus(r.status), CloseReason(r.close_reason) if r.close_reason else None),
        closed=bool(r.completed), withdrawn=bool(r.withdrawn), on_time=bool(r.on_time), reworked=bool(r.reworked),
        emergency=bool(r.emergency), score=None if r.score is None else int(r.score),
        accept_s=None if r.accept_s is None else float(r.accept_s),
        close_s=None if r.close_s is None else float(r.close_s), comment=r.comment or None,
    ) for r in rows]


async def compute(session: AsyncSession, settings: Settings, scope: Scope, period: Period, locale: str,
                  as_of: datetime) -> Report:
    """Every figure of a scope over a period, as of ``as_of`` (no permission check:
    :func:`build` and the digest job decide who gets it)."""
    _ = translator(locale)
    tz = settings.tz
    since, until = period.bounds(settings)
    conds = case_conditions(scope)
    grids_q = grid_ids_of(scope)
    today = local_day(as_of, tz)

    dims = ["grid", "service", "owner"] + (["community"] if scope.kind == ScopeKind.district else [])
    bounds = trend_bounds(period, as_of, settings)
    # The cases of the period and of the trend's weeks, aggregated from their events once.
    async with cases.materialized(session, since=min(since, bounds[0]), until=max(until, bounds[-1]),
                                          as_of=as_of, conditions=conds) as f:
        in_period = [f.c.submitted_at >= since, f.c.submitted_at < until]
        breakdown = await cases.breakdown_of(session, f, dims, in_period)
        trend = await cases.weekly_of(session, f, bounds)
        lines = await case_lines(session, f, in_period, locale)
    overdue_cases = await cases.overdue_count(session, as_of, conds)
    open_now = await cases.open_count(session, as_of, conds)

    grid_rows = (await session.execute(
        select(Grid.id, Grid.code, Grid.names, Grid.community_id, Grid.active).where(Grid.id.in_(grids_q))
        .order_by(Grid.code))).all()
    grid_diary = await diary_figures.grid_figures(session, tz, period.start, period.end, grids_q)
    overdue = await diary_figures.overdue_households(session, today, grids_q)
    community_names = await _names(session, Community, {r.community_id for r in grid_rows}, locale)
    empty = cases.make_figures(cases.Tally())
    by_grid = []
    for r in grid_rows:
        figs = breakdown.by["grid"].get(r.id, empty)
        diary = grid_diary.get(r.id, DiaryFigures(None))
        if not r.active and not figs.sent and not diary.entries and not overdue.get(r.id):
            continue  # a retired grid with nothing to say
        by_grid.append(GridRow(r.id, i18n_name(r.names, locale, r.code), community_names.get(r.community_id, ""),
                               figs, diary, overdue.get(r.id, 0)))
    diary_total = diary_figures.total_figures(grid_diary.values())

    by_community = []
    if scope.kind == ScopeKind.district:
        by_community = [
            Row(cid, i18n_name(names, locale, code), breakdown.by["community"].get(cid, empty))
            for cid, code, names in (await session.execute(
                select(Community.id, Community.code, Community.names).where(Community.district_id == scope.id)
                .order_by(Community.code))).all()]

    services = await _names(session, ServiceItem, {k for k in breakdown.by["service"] if k is not None}, locale)
    by_category = sorted((Row(k, services.get(k, str(k)) if k is not None else _("Free requests (no catalogue item)"),
                              f) for k, f in breakdown.by["service"].items()),
                         key=lambda r: (-r.figures.sent, r.label))

    # Workers: whoever owns a case of the period, and every worker and grid head of the grids.
    grid_id_list = [r.id for r in grid_rows]
    field_workers = await field_workers_of(session, grid_id_list)
    owners = {k for k in breakdown.by["owner"] if k is not None}
    worker_ids = set(field_workers) | owners
    worker_diary = await diary_figures.period_figures(session, tz, period.start, period.end, worker_ids=worker_ids,
                                               grid_ids=grid_id_list)
    people = await _people(session, worker_ids)
    by_worker = [WorkerRow(uid, people.get(uid, f"#{uid}"), breakdown.by["owner"].get(uid, empty),
                           worker_diary.get(uid, DiaryFigures(uid))) for uid in worker_ids]
    by_worker.sort(key=lambda w: (w.name, w.user_id or 0))
    if None in breakdown.by["owner"]:
        by_worker.append(WorkerRow(None, _("Not accepted yet"), breakdown.by["owner"][None], DiaryFigures(None)))

    stations = await appointment_figures(session, appointment_conditions(scope), period.start, period.end, today)
    station_names = await _names(session, Station, set(stations), locale)
    appointments = AppointmentFigures()
    for fig in stations.values():
        appointments.add(fig)
    by_station = sorted(((station_names.get(k, str(k)), v) for k, v in stations.items()), key=lambda kv: kv[0])

    by_unit = "community" if scope.kind == ScopeKind.district else "grid"
    turnout = await consultations.turnout(session, grids_q, since, until)
    per_unit = await consultations.turnout(session, grids_q, since, until, by=by_unit)
    organisation = await org.org_figures(session, grids_q, since, until)
    org_per_unit = await org.org_figures_by(session, grids_q, since, until, by_unit)
    communities_q = select(Grid.community_id).where(Grid.id.in_(grids_q))
    service_days = await events.event_figures(session, communities_q, since, until)
    # Service days belong to a community: per community in a district's report only.
    events_per_unit = await events.event_figures_by_community(session, communities_q, since, until) \
        if by_unit == "community" else {}
    if by_unit == "community":
        unit_names = await _names(session, Community, {k for k in per_unit if k is not None} | set(org_per_unit)
                                  | set(events_per_unit), locale)
    else:
        unit_names = {r.id: i18n_name(r.names, locale, r.code) for r in grid_rows}

    def named(found: dict[Any, Any]) -> list[tuple[str, Any]]:
        return sorted(((unit_names.get(k, str(k)), v) for k, v in found.items() if k is not None),
                      key=lambda kv: kv[0])

    return Report(
        scope=scope, period=period, as_of=as_of, locale=locale, tz_name=settings.display_tz,
        cases=breakdown.total, targets=targets_for(breakdown.total, settings), by_community=by_community,
        by_grid=by_grid, by_category=by_category, by_worker=by_worker, trend=trend, diary=diary_total,
        households_overdue=sum(overdue.values()), appointments=appointments, by_station=by_station,
        comments=sorted((CommentLine(line.number, line.score, line.comment) for line in lines
                         if line.score is not None and line.comment), key=lambda c: (c.score, c.number)),
        overdue_cases=overdue_cases, open_now=open_now, lines=lines, consultations=turnout.get(None),
        consultations_by=named(per_unit), organisation=organisation, organisation_by=named(org_per_unit),
        events=service_days, events_by=named(events_per_unit),
    )
