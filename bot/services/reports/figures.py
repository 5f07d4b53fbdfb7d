"""Staff reports: completion, on-time completion, rework, satisfaction, grid work
and appointments for a district, a community or a grid over a period.

* Who may see what (checked here on every call, buttons included): district
  administrators their district and everything in it; community staff
  (secretaries) their communities and their grids; grid heads their grids.
  A scope one may not see answers exactly like a scope that does not exist.
* Periods are local (``DISPLAY_TZ``, Asia/Shanghai) calendar days
  ``[start, end)``: this week and last week (Monday to Sunday), this month,
  last month, this year, or two dates typed by the reader.
* The figures: cases from :mod:`bot.services.cases.figures`, the patrol
  diary from :mod:`bot.services.diary.figures`, appointments defined here.
  Their exact definitions are in ``docs/metrics.md``.
* Rendering: :func:`summary_text` (the chat summary), :mod:`reports_chart`
  (PNG), :mod:`reports_xlsx` (workbook and CSV of the cases); the Monday
  digest to community secretaries is in :mod:`reports_jobs`.

Nothing here knows Telegram; labels come in the reader's language through
:func:`bot.services.l10n.translator`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause, Select

from bot.config import Settings
from bot.services import diary as diary_figures
from bot.services.cases import figures as cases_figures
from bot.services.cases.figures import Figures, WeekPoint
from bot.services.cases.texts import status_label
from bot.services.dates import day_bounds, local_day
from bot.services.diary import DiaryFigures, field_workers_of
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from bot.services.escape import esc as html_escape
from bot.services.l10n import Translate
from models import (
    Appointment,
    AppointmentStatus,
    CareTag,
    Case,
    CaseStatus,
    CloseReason,
    Community,
    District,
    Grid,
    OpinionCategory,
    Role,
    ServiceItem,
    Station,
    User,
    i18n_name,
)

MAX_DAYS = 366  # the longest period one may type
TREND_MIN_WEEKS = 8  # the weekly trend shows at least this many weeks
REPORT_CB = "rp"  # callback data prefix (handlers.reports.router.ReportCb packs the same layout)


class ScopeKind(enum.StrEnum):
    district = "district"
    community = "community"
    grid = "grid"


# ------------------------------------------------------------------ scopes

@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    id: int
    code: str
    name: str


def _grants(user: User, role: Role) -> set[int]:
    return {g.scope_id for g in user.roles if g.role == role}


def can_report(user: User) -> bool:
    return any(g.role in (Role.admin, Role.staff, Role.grid_head) for g in user.roles)


async def scope_options(session: AsyncSession, user: User, locale: str) -> list[Scope]:
    """The scopes ``user`` may report on, widest first: their districts and the
    communities in them (administrators), their communities and their grids
    (staff), their grids (grid heads)."""
    out: list[Scope] = []
    districts = _grants(user, Role.admin)
    communities = _grants(user, Role.staff)
    grids = _grants(user, Role.grid_head)
    if not (districts or communities or grids):
        raise NotAllowed()
    if districts:
        for d in await session.scalars(select(District).where(District.id.in_(districts)).order_by(District.code)):
            out.append(Scope(ScopeKind.district, d.id, d.code, i18n_name(d.names, locale, d.code)))
        for c in await session.scalars(select(Community).where(Community.district_id.in_(districts),
                                                               Community.active).order_by(Community.code)):
            out.append(Scope(ScopeKind.community, c.id, c.code, i18n_name(c.names, locale, c.code)))
    if communities:
        for c in await session.scalars(select(Community).where(Community.id.in_(communities))
                                       .order_by(Community.code)):
            out.append(Scope(ScopeKind.community, c.id, c.code, i18n_name(c.names, locale, c.code)))
        for g in await session.scalars(select(Grid).where(Grid.community_id.in_(communities), Grid.active)
                                       .order_by(Grid.code)):
            out.append(Scope(ScopeKind.grid, g.id, g.code, i18n_name(g.names, locale, g.code)))
    if grids:
        for g in await session.scalars(select(Grid).where(Grid.id.in_(grids)).order_by(Grid.code)):
            out.append(Scope(ScopeKind.grid, g.id, g.code, i18n_name(g.names, locale, g.code)))
    seen: set[tuple[ScopeKind, int]] = set()
    unique = []
    for s in out:
        if (s.kind, s.id) not in seen:
            seen.add((s.kind, s.id))
            unique.append(s)
    return unique


async def resolve_scope(session: AsyncSession, user: User, kind: str, scope_id: int, locale: str) -> Scope:
    """The scope named by (possibly forged) input, if ``user`` may report on it."""
    districts = _grants(user, Role.admin)
    communities = _grants(user, Role.staff)
    grids = _grants(user, Role.grid_head)
    if not (districts or communities or grids):
        raise NotAllowed()
    allowed = False
    row: District | Community | Grid | None = None
    if kind == ScopeKind.district:
        row = await session.get(District, scope_id)
        allowed = row is not None and row.id in districts
    elif kind == ScopeKind.community:
        row = await session.get(Community, scope_id)
        allowed = row is not None and (row.id in communities or row.district_id in districts)
    elif kind == ScopeKind.grid:
        row = await session.get(Grid, scope_id)
        if row is not None:
            community = await session.get(Community, row.community_id)
            allowed = (row.id in grids or row.community_id in communities
                       or (community is not None and community.district_id in districts))
    if not allowed or row is None:
        raise NotFound("report_scope")  # the same answer whether it exists or not
    return Scope(ScopeKind(kind), row.id, row.code, i18n_name(row.names, locale, row.code))


def grid_ids_of(scope: Scope) -> Select[Any]:
    """The ids of the grids in a scope, as a subquery."""
    if scope.kind == ScopeKind.grid:
        return select(Grid.id).where(Grid.id == scope.id)
    if scope.kind == ScopeKind.community:
        return select(Grid.id).where(Grid.community_id == scope.id)
    return select(Grid.id).join(Community, Community.id == Grid.community_id).where(
        Community.district_id == scope.id)


def case_conditions(scope: Scope) -> list[ColumnElement[bool]]:
    return cases_figures.scope_conditions(**{f"{scope.kind.value}_id": scope.id})


def appointment_conditions(scope: Scope) -> list[ColumnElement[bool]]:
    """Appointments count for the community of their station; for a grid, the
    residents who live in it."""
    if scope.kind == ScopeKind.grid:
        return [Appointment.resident_id.in_(select(User.id).where(User.grid_id == scope.id))]
    if scope.kind == ScopeKind.community:
        return [Appointment.station_id.in_(select(Station.id).where(Station.community_id == scope.id))]
    return [Appointment.station_id.in_(select(Station.id).join(Community, Community.id == Station.community_id)
                                       .where(Community.district_id == scope.id))]


# ------------------------------------------------------------------ periods

PERIOD_CODES = ("tw", "lw", "tm", "lm", "ty")
_DATES_CODE = re.compile(r"^d(\d{8})-(\d{8})$")
_DATE = re.compile(r"(\d{4})[-./年](\d{1,2})[-./月](\d{1,2})日?")


@dataclass(frozen=True, slots=True)
class Period:
    code: str  # tw, lw, tm, lm, ty, or dYYYYMMDD-YYYYMMDD (both days included)
    start: date  # first local day
    end: date  # the day after the last local day

    @property
    def last(self) -> date:
        return self.end - timedelta(days=1)

    def bounds(self, settings: Settings) -> tuple[datetime, datetime]:
        return day_bounds(self.start, self.end, settings.tz)


def dates_period(start: date, last: date) -> Period:
    return Period(f"d{start:%Y%m%d}-{last:%Y%m%d}", start, last + timedelta(days=1))


def period_for(code: str, today: date) -> Period:
    """A period named by (possibly forged) callback data, relative to ``today`` (local)."""
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    if code == "tw":
        return Period(code, monday, monday + timedelta(days=7))
    if code == "lw":
        return Period(code, monday - timedelta(days=7), monday)
    if code == "tm":
        return Period(code, first, (first + timedelta(days=32)).replace(day=1))
    if code == "lm":
        start = (first - timedelta(days=1)).replace(day=1)
        return Period(code, start, first)
    if code == "ty":
        return Period(code, date(today.year, 1, 1), date(today.year + 1, 1, 1))
    m = _DATES_CODE.match(code or "")
    if m:
        try:
            start = datetime.strptime(m.group(1), "%Y%m%d").date()
            last = datetime.strptime(m.group(2), "%Y%m%d").date()
        except ValueError:
            raise InvalidInput("report_period") from None
        return _checked(start, last, today)
    raise InvalidInput("report_period")


def _checked(start: date, last: date, today: date) -> Period:
    if last < start:
        raise InvalidInput("report_dates_order")
    if start > today:
        raise InvalidInput("report_dates_future")
    if (last - start).days + 1 > MAX_DAYS:
        raise InvalidInput("report_dates_too_long", days=MAX_DAYS)
    return dates_period(start, last)


def parse_dates(text: str, today: date) -> Period:
    """Two dates typed by the reader: ``2026-11-01 2026-11-15`` (also ``2026/11/1 - 2026/11/15``,
    ``2026年11月1日至2026年11月15日``); one date is that single day."""
    text = (text or "").strip()
    if len(text) > 80:
        raise InvalidInput("report_dates_format")
    found = _DATE.findall(text)
    if not 1 <= len(found) <= 2:
        raise InvalidInput("report_dates_format")
    try:
        days = [date(int(y), int(m), int(d)) for y, m, d in found]
    except ValueError:
        raise InvalidInput("report_dates_format") from None
    return _checked(days[0], days[-1], today)


def trend_bounds(period: Period, as_of: datetime, settings: Settings) -> list[datetime]:
    """Local Mondays (as instants) bounding the weeks of the trend: every week that
    overlaps the period, at least ``TREND_MIN_WEEKS``, none after the week of ``as_of``."""
    last = min(period.last, local_day(as_of, settings.tz))
    end = last - timedelta(days=last.weekday()) + timedelta(days=7)
    start = period.start - timedelta(days=period.start.weekday())
    start = min(start, end - timedelta(weeks=TREND_MIN_WEEKS))
    weeks = (end - start).days // 7
    return [datetime.combine(start + timedelta(weeks=i), datetime.min.time(), settings.tz)
            for i in range(weeks + 1)]


# ------------------------------------------------------------------ the report

@dataclass(frozen=True, slots=True)
class Target:
    key: str  # completion, on_time, rework, satisfied
    value: float | None  # a share (0-1)
    threshold: float  # a share (0-1)
    ceiling: bool = False  # met when value <= threshold (rework); else value >= threshold

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.threshold + 1e-12 if self.ceiling else self.value >= self.threshold - 1e-12


@dataclass(frozen=True, slots=True)
class Row:
    key: int | None
    label: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class GridRow:
    grid_id: int
    label: str
    community: str
    figures: Figures
    diary: DiaryFigures
    households_overdue: int


@dataclass(frozen=True, slots=True)
class WorkerRow:
    user_id: int | None  # None: cases nobody has accepted yet
    name: str
    figures: Figures
    diary: DiaryFigures


@dataclass(slots=True)
class AppointmentFigures:
    booked: int = 0  # not cancelled: attended + no-show + still booked
    attended: int = 0
    no_show: int = 0
    unmarked: int = 0  # still "booked" on a day before the report's day
    upcoming: int = 0  # still "booked" on the report's day or later
    cancelled: int = 0
    proxy: int = 0  # of the booked, booked by a worker for a resident

    @property
    def no_show_rate(self) -> float | None:
        marked = self.attended + self.no_show
        return self.no_show / marked if marked else None

    def add(self, other: AppointmentFigures) -> None:
        for name in ("booked", "attended", "no_show", "unmarked", "upcoming", "cancelled", "proxy"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class CommentLine:
    number: str
    score: int
    comment: str


@dataclass(slots=True)
class Report:
    scope: Scope
    period: Period
    as_of: datetime
    locale: str
    tz_name: str
    cases: Figures
    targets: list[Target]
    by_community: list[Row]
    by_grid: list[GridRow]
    by_category: list[Row]
    by_worker: list[WorkerRow]
    trend: list[WeekPoint]
    diary: DiaryFigures
    households_overdue: int
    appointments: AppointmentFigures
    by_station: list[tuple[str, AppointmentFigures]]
    comments: list[CommentLine] = field(default_factory=list)
    overdue_cases: int = 0
    lines: list[CaseLine] = field(default_factory=list)  # the cohort's cases (the CSV)


def targets_for(figs: Figures, settings: Settings) -> list[Target]:
    return [
        Target("completion", figs.completion_rate, settings.report_target_completion / 100),
        Target("on_time", figs.on_time_rate, settings.report_target_on_time / 100),
        Target("rework", figs.rework_rate, settings.report_target_rework / 100, ceiling=True),
        Target("satisfied", figs.satisfied_share, settings.report_target_satisfied / 100),
    ]


@dataclass(frozen=True, slots=True)
class Files:
    stem: str
    png: bytes
    xlsx: bytes
    csv: bytes


async def build(session: AsyncSession, settings: Settings, user: User, kind: str, scope_id: int,
                period_code: str | None, locale: str, now: datetime, *, dates: str | None = None) -> Report:
    """The report ``user`` asked for: scope and period from (possibly forged) input,
    the period as a code (a button) or as typed ``dates``."""
    scope = await resolve_scope(session, user, kind, scope_id, locale)
    today = local_day(now, settings.tz)
    period = parse_dates(dates, today) if dates is not None else period_for(period_code or "", today)
    return await compute(session, settings, scope, period, locale, now)


def render_files(report: Report) -> Files:
    """Chart, workbook and CSV of a report (CPU-bound: run it in a thread)."""
    from zoneinfo import ZoneInfo

    from bot.services.l10n import translator
    from bot.services.reports import chart as reports_chart
    from bot.services.reports import xlsx as reports_xlsx

    _ = translator(report.locale)
    return Files(file_stem(report), reports_chart.render_png(report), reports_xlsx.workbook(report, _),
                 reports_xlsx.cases_csv(report.lines, _, ZoneInfo(report.tz_name)))


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


@dataclass(frozen=True, slots=True)
class CaseLine:
    number: str
    submitted_at: datetime
    category: str
    grid: str
    worker: str
    status: str
    closed: bool
    withdrawn: bool
    on_time: bool
    reworked: bool
    emergency: bool
    score: int | None
    accept_s: float | None
    close_s: float | None
    comment: str | None = None


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
    _ = _translator(locale)
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
    _ = _translator(locale)
    tz = settings.tz
    since, until = period.bounds(settings)
    conds = case_conditions(scope)
    grids_q = grid_ids_of(scope)
    today = local_day(as_of, tz)

    dims = ["grid", "service", "owner"] + (["community"] if scope.kind == ScopeKind.district else [])
    bounds = trend_bounds(period, as_of, settings)
    # The cases of the period and of the trend's weeks, aggregated from their events once.
    async with cases_figures.materialized(session, since=min(since, bounds[0]), until=max(until, bounds[-1]),
                                          as_of=as_of, conditions=conds) as f:
        in_period = [f.c.submitted_at >= since, f.c.submitted_at < until]
        cases = await cases_figures.breakdown_of(session, f, dims, in_period)
        trend = await cases_figures.weekly_of(session, f, bounds)
        lines = await case_lines(session, f, in_period, locale)
    overdue_cases = await cases_figures.overdue_count(session, as_of, conds)

    grid_rows = (await session.execute(
        select(Grid.id, Grid.code, Grid.names, Grid.community_id, Grid.active).where(Grid.id.in_(grids_q))
        .order_by(Grid.code))).all()
    grid_diary = await diary_figures.grid_figures(session, tz, period.start, period.end, grids_q)
    overdue = await diary_figures.overdue_households(session, today, grids_q)
    community_names = await _names(session, Community, {r.community_id for r in grid_rows}, locale)
    empty = cases_figures.make_figures(cases_figures.Tally())
    by_grid = []
    for r in grid_rows:
        figs = cases.by["grid"].get(r.id, empty)
        diary = grid_diary.get(r.id, DiaryFigures(None))
        if not r.active and not figs.sent and not diary.entries and not overdue.get(r.id):
            continue  # a retired grid with nothing to say
        by_grid.append(GridRow(r.id, i18n_name(r.names, locale, r.code), community_names.get(r.community_id, ""),
                               figs, diary, overdue.get(r.id, 0)))
    diary_total = diary_figures.total_figures(grid_diary.values())

    by_community = []
    if scope.kind == ScopeKind.district:
        by_community = [
            Row(cid, i18n_name(names, locale, code), cases.by["community"].get(cid, empty))
            for cid, code, names in (await session.execute(
                select(Community.id, Community.code, Community.names).where(Community.district_id == scope.id)
                .order_by(Community.code))).all()]

    services = await _names(session, ServiceItem, {k for k in cases.by["service"] if k is not None}, locale)
    by_category = sorted((Row(k, services.get(k, str(k)) if k is not None else _("Free requests (no catalogue item)"),
                              f) for k, f in cases.by["service"].items()),
                         key=lambda r: (-r.figures.sent, r.label))

    # Workers: whoever owns a case of the period, and every worker and grid head of the grids.
    grid_id_list = [r.id for r in grid_rows]
    field_workers = await field_workers_of(session, grid_id_list)
    owners = {k for k in cases.by["owner"] if k is not None}
    worker_ids = set(field_workers) | owners
    worker_diary = await diary_figures.period_figures(session, tz, period.start, period.end, worker_ids=worker_ids,
                                               grid_ids=grid_id_list)
    people = await _people(session, worker_ids)
    by_worker = [WorkerRow(uid, people.get(uid, f"#{uid}"), cases.by["owner"].get(uid, empty),
                           worker_diary.get(uid, DiaryFigures(uid))) for uid in worker_ids]
    by_worker.sort(key=lambda w: (w.name, w.user_id or 0))
    if None in cases.by["owner"]:
        by_worker.append(WorkerRow(None, _("Not accepted yet"), cases.by["owner"][None], DiaryFigures(None)))

    stations = await appointment_figures(session, appointment_conditions(scope), period.start, period.end, today)
    station_names = await _names(session, Station, set(stations), locale)
    appointments = AppointmentFigures()
    for fig in stations.values():
        appointments.add(fig)
    by_station = sorted(((station_names.get(k, str(k)), v) for k, v in stations.items()), key=lambda kv: kv[0])

    return Report(
        scope=scope, period=period, as_of=as_of, locale=locale, tz_name=settings.display_tz,
        cases=cases.total, targets=targets_for(cases.total, settings), by_community=by_community,
        by_grid=by_grid, by_category=by_category, by_worker=by_worker, trend=trend, diary=diary_total,
        households_overdue=sum(overdue.values()), appointments=appointments, by_station=by_station,
        comments=sorted((CommentLine(line.number, line.score, line.comment) for line in lines
                         if line.score is not None and line.comment), key=lambda c: (c.score, c.number)),
        overdue_cases=overdue_cases, lines=lines,
    )


def _translator(locale: str) -> Translate:
    from bot.services.l10n import translator

    return translator(locale)


# ------------------------------------------------------------------ text

def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def duration(_: Translate, seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return _("{n} min").format(n=max(0, round(seconds / 60)))
    if seconds < 48 * 3600:
        return _("{n} h").format(n=f"{seconds / 3600:.1f}")
    return _("{n} d").format(n=f"{seconds / 86400:.1f}")


def mark(target: Target) -> str:
    return {True: "✅", False: "❌", None: "▫️"}[target.met]


def target_label(_: Translate, key: str) -> str:
    return {
        "completion": _("Completion rate"),
        "on_time": _("On-time completion"),
        "rework": _("Rework rate"),
        "satisfied": _("Rated 4-5"),
    }[key]


def target_rule(target: Target) -> str:
    return ("≤ " if target.ceiling else "≥ ") + f"{target.threshold * 100:g}%"


def scope_kind_label(_: Translate, kind: ScopeKind) -> str:
    return {ScopeKind.district: _("district"), ScopeKind.community: _("community"),
            ScopeKind.grid: _("grid")}[kind]


def period_label(_: Translate, period: Period) -> str:
    names = {"tw": _("this week"), "lw": _("last week"), "tm": _("this month"), "lm": _("last month"),
             "ty": _("this year")}
    span = f"{period.start:%Y-%m-%d} – {period.last:%Y-%m-%d}"
    return f"{names[period.code]}, {span}" if period.code in names else span


def care_label(_: Translate, key: str) -> str:
    return {
        CareTag.elderly_alone: _("elderly living alone"),
        CareTag.disabled: _("disabled"),
        CareTag.member_hardship: _("party members in hardship"),
        CareTag.family_difficulty: _("families in difficulty"),
        CareTag.other: _("other"),
    }.get(key, key)  # type: ignore[call-overload]


def opinion_label(_: Translate, key: str) -> str:
    return {
        OpinionCategory.environment: _("environment"),
        OpinionCategory.property: _("property and housing"),
        OpinionCategory.safety: _("safety"),
        OpinionCategory.welfare: _("welfare"),
        OpinionCategory.dispute: _("disputes"),
        OpinionCategory.suggestion: _("suggestions"),
        OpinionCategory.other: _("other"),
    }.get(key, key)  # type: ignore[call-overload]


def categories(_: Translate, counts: dict[str, int], label) -> str:  # type: ignore[no-untyped-def]
    return ", ".join(f"{label(_, k)} {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def title(_: Translate, report: Report) -> str:
    return _("{scope} ({kind}), {period}").format(scope=report.scope.name,
                                                  kind=scope_kind_label(_, report.scope.kind),
                                                  period=period_label(_, report.period))


def as_of_label(report: Report) -> str:
    from zoneinfo import ZoneInfo

    return report.as_of.astimezone(ZoneInfo(report.tz_name)).strftime("%Y-%m-%d %H:%M")


def summary_lines(_: Translate, report: Report) -> list[str]:
    """The figures of the summary, one line each (HTML)."""
    c = report.cases
    t = {x.key: x for x in report.targets}

    def checked(key: str) -> str:
        x = t[key]
        return _("{label} {value} {mark} (target {rule})").format(
            label=target_label(_, key), value=pct(x.value), mark=mark(x), rule=target_rule(x))

    lines = [
        _("Cases received {sent} · closed {closed} · withdrawn {withdrawn} · still open {open}").format(
            sent=c.sent, closed=c.completed, withdrawn=c.withdrawn, open=c.open),
        checked("completion"),
        checked("on_time") + " · " + checked("rework"),
        _("Satisfaction {mean} · {ratings} ratings · {comments} comments").format(
            mean="–" if c.satisfaction_mean is None else f"{c.satisfaction_mean:.2f}/5", ratings=c.ratings,
            comments=c.comments) + " · " + checked("satisfied"),
        _("Median time to accept {accept} · to close {close}").format(
            accept=duration(_, c.accept_seconds_median), close=duration(_, c.close_seconds_median)),
        _("Emergencies {count} · median time to acknowledge {ack}").format(
            count=c.emergencies, ack=duration(_, c.emergency_ack_seconds_median)),
        _("Overdue open cases now: {count}").format(count=report.overdue_cases),
    ]
    d = report.diary
    lines.append(_("Visits {count}").format(count=d.visits)
                 + (f" ({categories(_, d.visits_by_category, care_label)})" if d.visits else "")
                 + " · " + _("opinions {count}").format(count=d.opinions)
                 + " · " + _("problems found {count} ({cases} made cases)").format(count=d.problems,
                                                                                    cases=d.cases_opened))
    lines.append(_("Households overdue for a visit now: {count}").format(count=report.households_overdue))
    a = report.appointments
    lines.append(_("Appointments {booked} · attended {attended} · no-shows {no_show} ({rate}) · "
                   "not marked {unmarked}").format(booked=a.booked, attended=a.attended, no_show=a.no_show,
                                                   rate=pct(a.no_show_rate), unmarked=a.unmarked))
    return lines


def weakest(report: Report, limit: int = 3) -> list[GridRow | Row]:
    """The units below the completion target, lowest first (grids; communities for a district)."""
    threshold = next(t.threshold for t in report.targets if t.key == "completion")
    rows: list[GridRow | Row] = list(report.by_community if report.scope.kind == ScopeKind.district
                                     else report.by_grid)
    below = [r for r in rows if r.figures.completion_rate is not None and r.figures.completion_rate < threshold]
    below.sort(key=lambda r: (r.figures.completion_rate or 0, r.label))
    return below[:limit]


def summary_text(_: Translate, report: Report) -> str:
    """The short chat summary (HTML)."""
    lines = ["📊 <b>" + html_escape(title(_, report)) + "</b>",
             _("As of {time} ({tz})").format(time=as_of_label(report), tz=report.tz_name), ""]
    lines += [html_escape(line) for line in summary_lines(_, report)]
    low = weakest(report)
    if low:
        lines.append("")
        lines.append(_("Below the completion target:"))
        lines += [f"• {html_escape(r.label)} {pct(r.figures.completion_rate)} ({r.figures.completed}/"
                  f"{r.figures.sent - r.figures.withdrawn})" for r in low]
    return "\n".join(lines)


def file_stem(report: Report) -> str:
    return f"report-{report.scope.code}-{report.period.start:%Y%m%d}-{report.period.last:%Y%m%d}"


def report_cb(action: str, kind: str = "", scope_id: int = 0, period: str = "", page: int = 0) -> str:
    """Callback data of report buttons written by services (the digest): the layout
    aiogram packs for ``handlers.reports.router.ReportCb``."""
    return f"{REPORT_CB}:{action}:{kind}:{scope_id}:{period}:{page}"

