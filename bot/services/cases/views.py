"""Reading cases: a resident's list, a worker's inbox (overdue first), one
case with its timeline, and its attachments; each filtered by who reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import department_ids, field_grid_ids, staff_community_ids
from bot.services.cases.common import (
    OVERSEER,
    STATUS_EVENTS,
    WORKER_SIDE,
    Capacity,
    case_for,
    checker_caps,
    excerpt,
    found_on_patrol,
    log_phone_shown,
    publishable,
)
from bot.services.errors import Conflict, NotAllowed
from models import (
    HANDLING_STATUSES,
    OPEN_STATUSES,
    ActorRole,
    Building,
    Case,
    CaseAttachment,
    CaseEscalation,
    CaseEvent,
    CaseEventType,
    CaseFollower,
    CaseHandover,
    CaseKind,
    CaseRating,
    CaseStatus,
    CloseReason,
    Department,
    Grid,
    Open311Request,
    ServiceItem,
    User,
    i18n_name,
)

# On a resident's timeline these events show their note; others show only what happened.
RESIDENT_NOTES = {CaseEventType.message, CaseEventType.resolved, CaseEventType.handover, CaseEventType.submitted}


def follows_only(caps: set[Capacity]) -> bool:
    """A neighbour who follows the case and is nothing else to it: they see its number,
    category and status changes only (issue 16), never what the resident or the workers wrote
    or sent."""
    return bool(caps) and not (caps - {Capacity.follower})


@dataclass(frozen=True, slots=True)
class CaseBrief:
    id: int
    number: str
    status: CaseStatus
    close_reason: CloseReason | None
    title: str
    submitted_at: datetime | None
    due_at: datetime | None
    overdue: bool
    emergency_open: bool
    mine: bool = False  # owned by the reader (workers) / followed, not own (residents: False)
    following: bool = False
    item: str | None = None  # the catalogue item's name (None: a free request)
    kind: CaseKind = CaseKind.request


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    at: datetime
    type: CaseEventType
    role: ActorRole
    actor_name: str | None  # None on a resident's timeline
    note: str | None
    data: dict
    by_family: bool = False  # a family member acting for the resident (bot.services.family)


@dataclass(frozen=True, slots=True)
class EscalationLine:
    id: int
    department: str
    note: str
    ack_due_at: datetime
    acknowledged_at: datetime | None
    reported_at: datetime | None
    report: str | None
    mine: bool  # the reader is an officer of this department


@dataclass
class CaseView:
    case: Case
    caps: set[Capacity]
    title: str
    building: str | None
    address: str | None
    grid: str
    resident_name: str | None  # worker side and officers only
    description: str | None  # what the resident wrote: not for followers
    authorisation: str | None  # proxy errands: not for followers
    resolution: str | None  # the worker's result note: not for followers
    resident_phone: str | None  # the owner only
    owner_name: str | None  # worker side, and the resident of the case (the given name)
    has_owner: bool
    timeline: list[TimelineEntry]
    events_total: int
    escalations: list[EscalationLine]
    handovers: list[CaseHandover]
    attachments: int
    rating: CaseRating | None
    followers: int
    accept_overdue: bool
    resolve_overdue: bool
    actions: list[str] = field(default_factory=list)
    found: bool = False  # filed from the worker side (found on patrol): checked by a colleague, never rated


def _title(case: Case, services: dict[int, ServiceItem], locale: str, *, with_text: bool = True) -> str:
    service = services.get(case.service_id) if case.service_id else None
    name = i18n_name(service.names, locale, service.code) if service else None
    text = excerpt(case.description, 40) if with_text else ""
    if name and text:
        return f"{name} · {text}"
    return name or text or "—"


def _due(case: Case) -> datetime | None:
    if case.status == CaseStatus.new:
        return case.accept_due_at
    if case.status in HANDLING_STATUSES:
        return case.resolve_due_at
    return None


async def _services(session: AsyncSession, cases: list[Case]) -> dict[int, ServiceItem]:
    ids = {c.service_id for c in cases if c.service_id}
    if not ids:
        return {}
    return {s.id: s for s in await session.scalars(select(ServiceItem).where(ServiceItem.id.in_(ids)))}


def _brief(case: Case, services: dict[int, ServiceItem], locale: str, now: datetime, *, mine: bool = False,
           following: bool = False) -> CaseBrief:
    due = _due(case)
    return CaseBrief(case.id, case.number or "", case.status, case.close_reason,
                     _title(case, services, locale, with_text=not following),
                     case.submitted_at, due, bool(due and due < now),
                     bool(case.emergency and case.emergency_ack_at is None and case.status in OPEN_STATUSES),
                     mine=mine, following=following, item=_item(case, services, locale), kind=case.kind)


def _item(case: Case, services: dict[int, ServiceItem], locale: str) -> str | None:
    service = services.get(case.service_id) if case.service_id else None
    return i18n_name(service.names, locale, service.code) if service else None


async def my_cases(session: AsyncSession, resident: User, locale: str, now: datetime, *,
                   limit: int = 20) -> list[CaseBrief]:
    """The resident's own cases and those they follow: open first, then the latest closed."""
    followed = select(CaseFollower.case_id).where(CaseFollower.user_id == resident.id)
    rows = list(await session.scalars(
        select(Case).where(or_(Case.resident_id == resident.id, Case.id.in_(followed)),
                           Case.status != CaseStatus.draft)
        .order_by(sql_case((Case.status == CaseStatus.closed, 1), else_=0), Case.submitted_at.desc())
        .limit(limit)))
    services = await _services(session, rows)
    return [_brief(c, services, locale, now, following=c.resident_id != resident.id) for c in rows]


def _inbox_scope(actor: User):  # type: ignore[no-untyped-def]
    conditions = []
    grids, communities, departments = field_grid_ids(actor), staff_community_ids(actor), department_ids(actor)
    if grids:
        conditions.append(Case.grid_id.in_(grids))
    if communities:
        conditions.append(Case.community_id.in_(communities))
    if departments:
        conditions.append(Case.id.in_(select(CaseEscalation.case_id).where(
            CaseEscalation.department_id.in_(departments), CaseEscalation.reported_at.is_(None))))
    return conditions


async def inbox(session: AsyncSession, actor: User, locale: str, now: datetime, *, offset: int = 0,
                limit: int = 10) -> tuple[list[CaseBrief], int]:
    """Open cases of the reader's grids / communities / departments:
    unacknowledged emergencies, then by deadline (so the overdue come first),
    then those waiting for the resident's answer."""
    scope = _inbox_scope(actor)
    if not scope:
        raise NotAllowed()
    where = and_(or_(*scope), Case.status.in_(OPEN_STATUSES))
    due = sql_case((Case.status == CaseStatus.new, Case.accept_due_at),
                   (Case.status.in_(HANDLING_STATUSES), Case.resolve_due_at), else_=None)
    total = int(await session.scalar(select(func.count()).select_from(Case).where(where)) or 0)
    rows = list(await session.scalars(
        select(Case).where(where)
        .order_by(sql_case((and_(Case.emergency.is_(True), Case.emergency_ack_at.is_(None)), 0), else_=1),
                  sql_case((due.is_(None), 1), else_=0), due, Case.id)
        .offset(max(0, offset)).limit(limit)))
    services = await _services(session, rows)
    return [_brief(c, services, locale, now, mine=c.owner_id == actor.id) for c in rows], total


async def view(session: AsyncSession, actor: User, case_id: int, locale: str, now: datetime, *,
               timeline_limit: int = 15, shown: bool = True) -> CaseView:
    """The case card for ``actor``.  ``shown``: it is shown to them (a resident's
    phone on it is written to the access log); False for a check only."""
    case, caps = await case_for(session, actor, case_id)
    worker_side = bool(caps & WORKER_SIDE) or Capacity.department in caps
    resident_view = not worker_side
    follower = follows_only(caps)
    services = await _services(session, [case])
    building = await session.get(Building, case.building_id) if case.building_id else None
    grid = await session.get(Grid, case.grid_id)
    resident = await session.get(User, case.resident_id)
    owner = await session.get(User, case.owner_id) if case.owner_id else None

    events_q = select(CaseEvent).where(CaseEvent.case_id == case.id)
    if resident_view:
        events_q = events_q.where(CaseEvent.public.is_(True))
    if follower:
        events_q = events_q.where(CaseEvent.type.in_(list(STATUS_EVENTS)))
    total = int(await session.scalar(select(func.count()).select_from(events_q.subquery())) or 0)
    events = list(reversed(list(await session.scalars(events_q.order_by(CaseEvent.id.desc()).limit(timeline_limit)))))
    actor_ids = {e.actor_id for e in events if e.actor_id}
    names = {u.id: u.first_name for u in await session.scalars(select(User).where(User.id.in_(actor_ids)))} \
        if actor_ids and not resident_view else {}
    # A resident-side step by someone other than the resident and their followers: a family member's.
    others = {e.actor_id for e in events if e.actor_role == ActorRole.resident and e.actor_id is not None
              and e.actor_id != case.resident_id}
    if others:
        others -= set(await session.scalars(select(CaseFollower.user_id).where(CaseFollower.case_id == case.id)))
    timeline = []
    for e in events:
        by_family = e.actor_id in others
        if resident_view:
            note = e.note if (Capacity.resident in caps and e.type in RESIDENT_NOTES) else None
            timeline.append(TimelineEntry(e.at, e.type, e.actor_role, None, note, {}, by_family))
        else:
            timeline.append(TimelineEntry(e.at, e.type, e.actor_role, names.get(e.actor_id), e.note, e.data or {},
                                          by_family))

    escalation_rows = (await session.execute(
        select(CaseEscalation, Department).join(Department, Department.id == CaseEscalation.department_id)
        .where(CaseEscalation.case_id == case.id).order_by(CaseEscalation.id))).all()
    mine = department_ids(actor)
    escalations = [EscalationLine(e.id, i18n_name(d.names, locale, d.code), e.note if worker_side else "",
                                  e.ack_due_at, e.acknowledged_at, e.reported_at,
                                  e.report if worker_side else None, d.id in mine)
                   for e, d in escalation_rows] if not follower else []
    handovers = list(await session.scalars(select(CaseHandover).where(CaseHandover.case_id == case.id)
                                           .order_by(CaseHandover.id))) \
        if case.kind == CaseKind.proxy and (Capacity.resident in caps or worker_side) else []
    att_q = select(func.count()).select_from(CaseAttachment).where(CaseAttachment.case_id == case.id)
    if resident_view:
        att_q = att_q.where(CaseAttachment.public.is_(True))
    rating = await session.scalar(select(CaseRating).where(CaseRating.case_id == case.id))
    # Neighbours who said "me too"; a building head who filed it for a neighbour follows it
    # too (to pass on the news), but reported nothing of their own.
    filer = select(CaseEvent.actor_id).where(CaseEvent.case_id == case.id, CaseEvent.type == CaseEventType.submitted,
                                             CaseEvent.actor_id.is_not(None))
    follower_count = int(await session.scalar(select(func.count()).select_from(CaseFollower).where(
        CaseFollower.case_id == case.id, CaseFollower.user_id.not_in(filer))) or 0)
    result = CaseView(
        case=case, caps=caps, title=_title(case, services, locale, with_text=not follower),
        building=i18n_name(building.names, locale, building.code) if building else None,
        address=building.address if building and not follower else None,
        grid=i18n_name(grid.names, locale, grid.code) if grid else "",
        resident_name=resident.first_name if (resident and worker_side) else None,
        description=None if follower else case.description,
        authorisation=None if follower else case.authorisation,
        resolution=None if follower else case.resolution,
        resident_phone=await _contact(session, case, resident)
        if (resident and Capacity.owner in caps and case.status != CaseStatus.closed) else None,
        # Her own case: the resident learns her worker's given name (never the account, issue 20).
        owner_name=owner.first_name if (owner and (worker_side or Capacity.resident in caps)) else None,
        has_owner=owner is not None,
        timeline=timeline, events_total=total, escalations=escalations, handovers=handovers,
        attachments=0 if follower else int(await session.scalar(att_q) or 0),
        rating=rating if (Capacity.resident in caps or worker_side) else None,
        followers=follower_count,
        accept_overdue=bool(case.status == CaseStatus.new and case.accept_due_at and case.accept_due_at < now),
        resolve_overdue=bool(case.status in (CaseStatus.new, *HANDLING_STATUSES) and case.resolve_due_at
                             and case.resolve_due_at < now),
        found=await found_on_patrol(session, case),
    )
    result.actions = actions_for(result)
    if shown and result.resident_phone:
        await log_phone_shown(session, actor, case, now)
    return result


async def _contact(session: AsyncSession, case: Case, resident: User | None) -> str | None:
    """The resident's phone; for a case filed by another system (Open311), the
    phone and email its reporter gave (never published)."""
    if resident is None or resident.telegram_id is not None:
        return resident.phone if resident else None
    row = (await session.execute(select(Open311Request.phone, Open311Request.email)
                                 .where(Open311Request.case_id == case.id))).first()
    return " · ".join(v for v in row if v) or None if row is not None else resident.phone


async def require_action(session: AsyncSession, actor: User, case_id: int, action: str, locale: str,
                         now: datetime) -> CaseView:
    """The case, when ``action`` is open to ``actor`` now (checked before a conversation
    starts; the service doing it checks again): else ``Conflict("wrong_status")``."""
    v = await view(session, actor, case_id, locale, now, shown=False)
    if action not in v.actions:
        raise Conflict("wrong_status", number=v.case.number or "")
    return v


def actions_for(v: CaseView) -> list[str]:
    """What the reader may do now (the services check again when they do it)."""
    c, caps, out = v.case, v.caps, []
    open_ = c.status in OPEN_STATUSES
    emergency_open = c.emergency and c.emergency_ack_at is None and open_
    if v.found:
        # Separation of duties: a colleague (neither the filer nor the owner) checks the fix.
        if c.status == CaseStatus.resolved and checker_caps(caps) \
                and not caps & {Capacity.resident, Capacity.owner}:
            out += ["ok", "nok"]
    if Capacity.resident in caps:
        if c.status == CaseStatus.resolved and not v.found and Capacity.owner not in caps:
            out += ["ok", "nok"]
        if open_ and c.status != CaseStatus.resolved:
            out.append("chat")
        if open_ and not emergency_open:
            out.append("emg")
        if c.status == CaseStatus.closed and c.close_reason != CloseReason.withdrawn and v.rating is None \
                and not v.found and Capacity.owner not in caps:
            out.append("rate")
        if c.status in (CaseStatus.new, *HANDLING_STATUSES):
            out.append("wd")
        if publishable(c) and not v.found and Capacity.owner not in caps:
            out.append("pub" if c.private else "prv")
    if emergency_open and caps & WORKER_SIDE:
        out.append("eack")
    if c.status == CaseStatus.new and Capacity.grid in caps and Capacity.resident not in caps:
        out.append("acc")
    if Capacity.owner in caps and c.status in HANDLING_STATUSES:
        if c.status in (CaseStatus.accepted, CaseStatus.reopened):
            out.append("start")
        out += ["chat", "canned", "res", "dept"]
        if c.kind == CaseKind.proxy:
            out += ["ho", "vol"]  # vol: offer it to the community's volunteers (bot.services.cases.volunteers)
    elif Capacity.owner in caps and c.status == CaseStatus.resolved and c.kind == CaseKind.proxy:
        out.append("ho")
    if open_ and not emergency_open and caps & {Capacity.owner, Capacity.grid, Capacity.staff} \
            and Capacity.resident not in caps:
        out.append("emg")
    if c.status in (CaseStatus.new, *HANDLING_STATUSES) and caps & OVERSEER and Capacity.resident not in caps:
        # Escalation handles (issue 20): take it, give it to a worker of the grid, remind.
        if Capacity.owner not in caps and "acc" not in out:
            out.append("take")
        out += ["asg", "rmd"]
    if caps & WORKER_SIDE or Capacity.department in caps:
        out.append("note")
    for e in v.escalations:
        if e.mine and e.reported_at is None:
            out.append(f"eack:{e.id}" if e.acknowledged_at is None else f"erep:{e.id}")
            if e.acknowledged_at is None:
                out.append(f"erep:{e.id}")
    if v.attachments:
        out.append("files")
    return out


async def attachments(session: AsyncSession, actor: User, case_id: int, *, limit: int = 20) -> list[CaseAttachment]:
    case, caps = await case_for(session, actor, case_id)
    if follows_only(caps):
        return []  # what a resident sent is theirs and their case team's, not a neighbour's
    q = select(CaseAttachment).where(CaseAttachment.case_id == case.id)
    if not (caps & WORKER_SIDE or Capacity.department in caps):
        q = q.where(CaseAttachment.public.is_(True))
    return list(await session.scalars(q.order_by(CaseAttachment.id).limit(limit)))


async def open_escalations(session: AsyncSession, officer: User, case_id: int) -> list[CaseEscalation]:
    departments = department_ids(officer)
    return list(await session.scalars(select(CaseEscalation).where(
        CaseEscalation.case_id == case_id, CaseEscalation.department_id.in_(departments),
        CaseEscalation.reported_at.is_(None)).order_by(CaseEscalation.id)))
