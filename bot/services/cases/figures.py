"""The case figures (办结率, 按期办结率, 返工率, 满意度...), computed from the events
alone (``case_events``), aggregated in the database.

This module is the one definition of every case figure; ``docs/metrics.md``
states them for people and :mod:`bot.services.reports.figures` builds its summaries,
charts and workbooks on them.  In short:

* the **cohort** of a period is the cases whose ``submitted`` event falls in
  ``[since, until)``; every figure is about the cohort, counted from the events
  at or before ``as_of`` (the moment the report is made);
* accepted (受理): cases with an ``accepted`` event (received, 收到, is the cohort itself);
* due (到期): not withdrawn, and closed or past its handling deadline (``resolve_due_at``,
  none counts as passed) at ``as_of``: a case whose deadline has not passed is never
  counted against completion;
* completion (办结率): closed (a ``confirmed`` or ``auto_closed`` event) / due;
* on time (按期办结率): closed cases whose last ``resolved`` event says
  ``on_time`` (the deadline then in force, written when it happened) / closed;
* rework (返工率): cases with a ``reopened`` event / cases with a ``resolved`` event;
* satisfaction (满意度): the ``rated`` events' scores: mean, share of 4-5, comments;
  a case filed from the worker side (a problem found on patrol: its
  ``submitted`` event's role is a worker side one, ``FILED_BY_STAFF``) never
  counts there;
* time to accept / to close: first ``accepted`` / closing event minus ``submitted``;
* emergencies: cases with an ``emergency_flagged`` event; time to acknowledge:
  first ``emergency_acknowledged`` minus ``emergency_flagged``.

One SQL statement turns the events into one row of facts per case (a CTE);
the counts are sums over it grouped by (community, grid, catalogue item,
owner) and added up here per dimension; the medians are computed in SQL with
window functions.  Nothing loops over events or cases in Python.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    case,
    func,
    insert,
    literal_column,
    null,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import FromClause, Select

from bot.services.cases.common import FILED_BY_STAFF
from models import (
    HANDLING_STATUSES,
    Case,
    CaseEvent,
    CaseEventType,
    CaseStatus,
    Community,
    UTCDateTime,
)

CLOSING = (CaseEventType.confirmed, CaseEventType.auto_closed)
SATISFIED_MIN = 4  # scores of 4 and 5 count as satisfied

# The dimensions a breakdown is grouped by (keys of :class:`Breakdown`).
DIMENSIONS = ("community", "grid", "service", "owner")
MEASURES = ("accept_s", "close_s", "ack_s")


# ------------------------------------------------------------------ results

@dataclass(slots=True)
class Tally:
    """The additive part of the figures: counts that add up across groups."""

    sent: int = 0
    accepted: int = 0
    due: int = 0
    withdrawn: int = 0
    completed: int = 0
    confirmed: int = 0
    auto: int = 0
    on_time: int = 0
    resolved: int = 0
    reworked: int = 0
    ratings: int = 0
    score_sum: int = 0
    satisfied: int = 0
    comments: int = 0
    emergencies: int = 0
    acknowledged: int = 0
    ack_max: float | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    sent: int
    withdrawn: int
    completed: int
    completed_confirmed: int
    completed_auto: int
    completion_rate: float | None
    on_time: int
    on_time_rate: float | None
    resolved: int
    reworked: int
    rework_rate: float | None
    ratings: int
    satisfaction_mean: float | None
    satisfied_share: float | None  # scores of 4 and 5
    accept_seconds_median: float | None
    close_seconds_median: float | None
    emergencies: int
    emergency_ack_seconds_median: float | None
    emergency_ack_seconds_max: float | None
    comments: int = 0
    emergencies_acknowledged: int = 0
    accepted: int = 0  # 受理: accepted by the as-of time
    due: int = 0  # 到期: closed, or past the handling deadline and not withdrawn (办结率's denominator)

    @property
    def open(self) -> int:
        """未办结: received, neither withdrawn nor closed (as of the report)."""
        return self.sent - self.withdrawn - self.completed


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def make_figures(t: Tally, medians: dict[str, float | None] | None = None) -> Figures:
    m = medians or {}
    return Figures(
        sent=t.sent, withdrawn=t.withdrawn, completed=t.completed, completed_confirmed=t.confirmed,
        completed_auto=t.auto, completion_rate=_rate(t.completed, t.due), on_time=t.on_time,
        on_time_rate=_rate(t.on_time, t.completed), resolved=t.resolved, reworked=t.reworked,
        rework_rate=_rate(t.reworked, t.resolved), ratings=t.ratings,
        satisfaction_mean=t.score_sum / t.ratings if t.ratings else None,
        satisfied_share=_rate(t.satisfied, t.ratings),
        accept_seconds_median=m.get("accept_s"), close_seconds_median=m.get("close_s"),
        emergencies=t.emergencies, emergency_ack_seconds_median=m.get("ack_s"),
        emergency_ack_seconds_max=t.ack_max, comments=t.comments, emergencies_acknowledged=t.acknowledged,
        accepted=t.accepted, due=t.due,
    )


@dataclass(slots=True)
class Breakdown:
    """The figures of a cohort, in total and per community, grid, catalogue item and owner.

    Keys are ids; ``None`` is "no catalogue item" (a free request) or "no owner"
    (never accepted)."""

    total: Figures
    by: dict[str, dict[int | None, Figures]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WeekPoint:
    start: datetime  # the bucket's first instant (aware UTC)
    sent: int
    withdrawn: int
    completed: int
    due: int = 0

    @property
    def completion_rate(self) -> float | None:
        return _rate(self.completed, self.due)


# ------------------------------------------------------------------ SQL

def scope_conditions(*, district_id: int | None = None, community_id: int | None = None,
                     grid_id: int | None = None) -> list[ColumnElement[bool]]:
    """Conditions on ``cases`` for a district, community or grid."""
    conds: list[ColumnElement[bool]] = []
    if grid_id is not None:
        conds.append(Case.grid_id == grid_id)
    if community_id is not None:
        conds.append(Case.community_id == community_id)
    if district_id is not None:
        conds.append(Case.community_id.in_(select(Community.id).where(Community.district_id == district_id)))
    return conds


def epoch_seconds(expr: ColumnElement[Any], dialect: str) -> ColumnElement[float]:
    """Seconds since 1970 of a stored UTC datetime, on either backend."""
    if dialect == "postgresql":
        return func.extract("epoch", expr)
    return (func.julianday(expr) - 2440587.5) * 86400.0


def facts(dialect: str, *, since: datetime, until: datetime, as_of: datetime | None,
          conditions: Sequence[ColumnElement[bool]] = ()) -> Select[Any]:
    """One row per case of the cohort: its facts as of ``as_of`` (one pass over its events)."""
    e = CaseEvent.__table__
    t = e.c.type
    in_time = [e.c.at <= as_of] if as_of is not None else []

    def first(kind: CaseEventType | tuple[CaseEventType, ...]) -> ColumnElement[Any]:
        kinds = kind if isinstance(kind, tuple) else (kind,)
        return func.min(case((t.in_(kinds), e.c.at)))

    def has(kind: CaseEventType) -> ColumnElement[int]:
        return func.max(case((t == kind, 1), else_=0))

    resolved_on_time = e.c.data["on_time"].as_boolean()
    on_time_flag = case((resolved_on_time.is_(True) if dialect == "postgresql" else resolved_on_time == 1, 1),
                        else_=0)
    cohort = select(e.c.case_id).where(t == CaseEventType.submitted, e.c.at >= since, e.c.at < until, *in_time)
    submitted = first(CaseEventType.submitted)
    closed_at = first(CLOSING)
    closed = closed_at.is_not(None)
    withdrawn = has(CaseEventType.withdrawn)
    # Due (到期): closed, or not withdrawn and past its handling deadline (none: passed) at as_of.
    deadline_passed = true() if as_of is None else or_(Case.resolve_due_at.is_(None), Case.resolve_due_at <= as_of)
    due = case((closed, 1), (and_(withdrawn == 0, deadline_passed), 1), else_=0)
    sub = epoch_seconds(submitted, dialect)
    # The last ``resolved`` event's on_time flag: the largest (id * 2 + flag) among them, modulo 2.
    last_resolved = func.max(case((t == CaseEventType.resolved, e.c.id * 2 + on_time_flag)))
    # Filed from the worker side (found on patrol): no resident's satisfaction, whatever was recorded.
    found = func.max(case((and_(t == CaseEventType.submitted, e.c.actor_role.in_(list(FILED_BY_STAFF))), 1),
                          else_=0))

    def resident_only(expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return case((found == 1, null()), else_=expr)

    return (
        select(
            Case.id.label("case_id"),
            Case.community_id, Case.grid_id, Case.service_id, Case.owner_id,
            submitted.label("submitted_at"),
            withdrawn.label("withdrawn"),
            case((closed, 1), else_=0).label("completed"),
            has(CaseEventType.accepted).label("accepted"),
            due.label("due"),
            has(CaseEventType.confirmed).label("confirmed"),
            has(CaseEventType.auto_closed).label("auto"),
            case((and_(closed, last_resolved % 2 == 1), 1), else_=0).label("on_time"),
            has(CaseEventType.resolved).label("resolved"),
            has(CaseEventType.reopened).label("reworked"),
            has(CaseEventType.emergency_flagged).label("emergency"),
            (epoch_seconds(first(CaseEventType.accepted), dialect) - sub).label("accept_s"),
            case((closed, epoch_seconds(closed_at, dialect) - sub)).label("close_s"),
            (epoch_seconds(first(CaseEventType.emergency_acknowledged), dialect)
             - epoch_seconds(first(CaseEventType.emergency_flagged), dialect)).label("ack_s"),
            # A case is rated once: its ``rated`` event's score and comment.
            resident_only(func.max(case((t == CaseEventType.rated, e.c.data["score"].as_integer())))).label("score"),
            resident_only(func.max(case((and_(t == CaseEventType.rated, func.coalesce(e.c.note, "") != ""), 1),
                                        else_=0))).label("commented"),
            resident_only(func.max(case((t == CaseEventType.rated, e.c.note)))).label("comment"),
        )
        .join(e, e.c.case_id == Case.id)
        .where(Case.id.in_(cohort), *conditions, *in_time)
        .group_by(Case.id, Case.community_id, Case.grid_id, Case.service_id, Case.owner_id, Case.resolve_due_at)
    )


def _tally_columns(f: Any) -> list[ColumnElement[Any]]:
    rated = f.c.score.is_not(None)
    return [
        func.count().label("sent"),
        func.sum(f.c.accepted).label("accepted"),
        func.sum(f.c.due).label("due"),
        func.sum(f.c.withdrawn).label("withdrawn"),
        func.sum(f.c.completed).label("completed"),
        func.sum(f.c.confirmed).label("confirmed"),
        func.sum(f.c.auto).label("auto"),
        func.sum(f.c.on_time).label("on_time"),
        func.sum(f.c.resolved).label("resolved"),
        func.sum(f.c.reworked).label("reworked"),
        func.count(f.c.score).label("ratings"),
        func.sum(f.c.score).label("score_sum"),
        func.sum(case((f.c.score >= SATISFIED_MIN, 1), else_=0)).label("satisfied"),
        func.sum(case((rated, f.c.commented), else_=0)).label("comments"),
        func.sum(f.c.emergency).label("emergencies"),
        func.count(f.c.ack_s).label("acknowledged"),
        func.max(f.c.ack_s).label("ack_max"),
    ]


def _tally(row: Any) -> Tally:
    m = row._mapping
    return Tally(**{name: int(m[name] or 0) for name in (
        "sent", "accepted", "due", "withdrawn", "completed", "confirmed", "auto", "on_time", "resolved", "reworked", "ratings",
        "score_sum", "satisfied", "comments", "emergencies", "acknowledged")},
        ack_max=_seconds(m["ack_max"]))


def _seconds(value: Any) -> float | None:
    # julianday arithmetic carries ~0.1 ms of float noise: keep milliseconds.
    return None if value is None else round(float(value), 3)


async def _medians(session: AsyncSession, f: Any, dims: dict[str, ColumnElement[Any] | None],
                   where: Sequence[ColumnElement[bool]] = ()) -> dict[tuple[str, int | None], dict[str, float | None]]:
    """Medians of each measure per dimension value, in one SQL statement.

    The median of n sorted values is the mean of the values at positions
    (n+1)//2 and (n+2)//2 (the middle one, or the two middle ones)."""
    parts = []
    names = list(dims)
    for d, key in enumerate(dims.values()):
        key_col = key if key is not None else literal_column("0", Integer)
        for m, measure in enumerate(MEASURES):
            parts.append(select(literal_column(str(d), Integer).label("d"), key_col.label("k"),
                                literal_column(str(m), Integer).label("m"), f.c[measure].label("v"))
                         .where(f.c[measure].is_not(None), *where))
    values = union_all(*parts).subquery("vals")
    window = {"partition_by": (values.c.d, values.c.k, values.c.m)}
    ranked = select(values.c.d, values.c.k, values.c.m, values.c.v,
                    func.row_number().over(order_by=values.c.v, **window).label("rn"),
                    func.count().over(**window).label("n")).subquery("ranked")
    stmt = (select(ranked.c.d, ranked.c.k, ranked.c.m, func.avg(ranked.c.v))
            .where((ranked.c.rn == (ranked.c.n + 1) // 2) | (ranked.c.rn == (ranked.c.n + 2) // 2))
            .group_by(ranked.c.d, ranked.c.k, ranked.c.m))
    out: dict[tuple[str, int | None], dict[str, float | None]] = {}
    for d, k, m, v in (await session.execute(stmt)).all():
        out.setdefault((names[d], k), {})[MEASURES[m]] = _seconds(v)
    return out


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name


async def breakdown_of(session: AsyncSession, f: FromClause, dimensions: Iterable[str] = DIMENSIONS,
                       where: Sequence[ColumnElement[bool]] = ()) -> Breakdown:
    """The figures of the facts rows ``f`` (a query of :func:`facts`, or a table made of one;
    ``where`` narrows it), in total and grouped by each dimension in SQL, and their medians."""
    dims = [d for d in dimensions if d in DIMENSIONS]
    keys = {"community": f.c.community_id, "grid": f.c.grid_id, "service": f.c.service_id, "owner": f.c.owner_id}
    total = _tally((await session.execute(select(*_tally_columns(f)).select_from(f).where(*where))).one())
    by: dict[str, dict[int | None, Tally]] = {}
    for d in dims:
        rows = await session.execute(select(keys[d], *_tally_columns(f)).select_from(f).where(*where)
                                     .group_by(keys[d]))
        by[d] = {row[0]: _tally(row) for row in rows.all()}
    medians = await _medians(session, f, {"total": None, **{d: keys[d] for d in dims}}, where) if total.sent else {}
    return Breakdown(
        total=make_figures(total, medians.get(("total", 0))),
        by={d: {k: make_figures(t, medians.get((d, k))) for k, t in by[d].items()} for d in dims},
    )


async def weekly_of(session: AsyncSession, f: FromClause, bounds: Sequence[datetime]) -> list[WeekPoint]:
    """Sent, withdrawn and completed per bucket ``[bounds[i], bounds[i+1])`` of the facts rows ``f``."""
    if len(bounds) < 2:
        return []
    bucket = case(*((f.c.submitted_at < b, i) for i, b in enumerate(bounds[1:])), else_=len(bounds) - 2)
    rows = (await session.execute(
        select(bucket.label("b"), func.count(), func.sum(f.c.withdrawn), func.sum(f.c.completed),
               func.sum(f.c.due)).select_from(f)
        .where(f.c.submitted_at >= bounds[0], f.c.submitted_at < bounds[-1]).group_by(bucket))).all()
    got = {int(b): (int(n), int(w or 0), int(c or 0), int(d or 0)) for b, n, w, c, d in rows}
    return [WeekPoint(bounds[i], *got.get(i, (0, 0, 0, 0))) for i in range(len(bounds) - 1)]


async def breakdown(session: AsyncSession, *, since: datetime, until: datetime, as_of: datetime | None = None,
                    conditions: Sequence[ColumnElement[bool]] = (),
                    dimensions: Iterable[str] = DIMENSIONS) -> Breakdown:
    """The cohort's figures in total and per dimension."""
    f = facts(_dialect(session), since=since, until=until, as_of=as_of, conditions=conditions).cte("facts")
    return await breakdown_of(session, f, dimensions)


async def weekly(session: AsyncSession, bounds: Sequence[datetime], *, as_of: datetime | None = None,
                 conditions: Sequence[ColumnElement[bool]] = ()) -> list[WeekPoint]:
    """Sent, withdrawn and completed per bucket ``[bounds[i], bounds[i+1])`` (same cohort rule)."""
    if len(bounds) < 2:
        return []
    f = facts(_dialect(session), since=bounds[0], until=bounds[-1], as_of=as_of,
              conditions=conditions).subquery("facts")
    return await weekly_of(session, f, bounds)


_FACT_TYPES: dict[str, Any] = {"submitted_at": UTCDateTime, "accept_s": Float, "close_s": Float, "ack_s": Float,
                               "comment": Text}
_temp_names = itertools.count(1)


@asynccontextmanager
async def materialized(session: AsyncSession, *, since: datetime, until: datetime, as_of: datetime | None,
                       conditions: Sequence[ColumnElement[bool]] = ()) -> AsyncIterator[Table]:
    """The cohort's facts computed once into a temporary table (dropped on exit), for a
    report that reads them several times: the events are aggregated once."""
    query = facts(_dialect(session), since=since, until=until, as_of=as_of, conditions=conditions)
    names = [c.name for c in query.selected_columns]
    table = Table(f"report_facts_{os.getpid()}_{next(_temp_names)}", MetaData(),
                  *(Column(n, _FACT_TYPES.get(n, BigInteger), primary_key=n == "case_id") for n in names),
                  prefixes=["TEMPORARY"])
    conn = await session.connection()
    await conn.run_sync(table.create)
    try:
        await session.execute(insert(table).from_select(names, query))
        yield table
    finally:
        await conn.run_sync(table.drop)


async def figures(session: AsyncSession, *, since: datetime, until: datetime, community_id: int | None = None,
                  grid_id: int | None = None, district_id: int | None = None,
                  as_of: datetime | None = None) -> Figures:
    """The cohort's figures in total (a district, a community or a grid)."""
    conds = scope_conditions(district_id=district_id, community_id=community_id, grid_id=grid_id)
    return (await breakdown(session, since=since, until=until, as_of=as_of, conditions=conds,
                            dimensions=())).total


def overdue_condition(now: datetime) -> ColumnElement[bool]:
    """Open, not waiting for the resident, and past its limit at ``now``: unaccepted past
    ``accept_due_at``, or unresolved past ``resolve_due_at`` (as the case card shows it)."""
    return and_(Case.status.in_([CaseStatus.new, *HANDLING_STATUSES]),
                or_(Case.resolve_due_at < now, and_(Case.status == CaseStatus.new, Case.accept_due_at < now)))


async def open_count(session: AsyncSession, now: datetime, conditions: Sequence[ColumnElement[bool]] = ()) -> int:
    """在办: cases open and not waiting for the resident at ``now`` (new, accepted, in progress,
    reopened), whenever they were received; the overdue ones are some of them."""
    return int(await session.scalar(select(func.count()).select_from(Case).where(
        Case.status.in_([CaseStatus.new, *HANDLING_STATUSES]), *conditions)) or 0)


async def overdue_count(session: AsyncSession, now: datetime,
                        conditions: Sequence[ColumnElement[bool]] = ()) -> int:
    """Cases overdue at ``now`` (a snapshot: whenever they were received)."""
    return int(await session.scalar(select(func.count()).select_from(Case).where(
        overdue_condition(now), *conditions)) or 0)


@dataclass(frozen=True, slots=True)
class OverdueCase:
    number: str
    grid_id: int
    status: CaseStatus
    due_at: datetime  # the limit it is past: acceptance for new cases, else resolution


async def overdue_cases(session: AsyncSession, now: datetime, conditions: Sequence[ColumnElement[bool]] = (),
                        *, limit: int = 10) -> list[OverdueCase]:
    """The longest overdue first (same rule as :func:`overdue_count`)."""
    due = case((and_(Case.status == CaseStatus.new, Case.accept_due_at < now), Case.accept_due_at),
               else_=Case.resolve_due_at)
    rows = await session.execute(
        select(Case.number, Case.grid_id, Case.status, due.label("due"))
        .where(overdue_condition(now), *conditions).order_by(due, Case.id).limit(limit))
    return [OverdueCase(n or "", g, CaseStatus(s), d) for n, g, s, d in rows.all()]
