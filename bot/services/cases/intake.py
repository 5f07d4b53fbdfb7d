"""One-stop intake (一口受理): a resident writes a case over several messages
(text, photos, voice notes, documents, a location) and sends it.

Until "Send" the case is a *draft* row that only its resident can see; every
piece is stored as it arrives, so nothing is lost to a restart or a detour
through the menu.  Sending gives it its number, its grid, its deadlines, and
tells the grid's workers, all in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import family, homes
from bot.services.access import chain_of_grid, field_grid_ids, oversees
from bot.services.cases import texts
from bot.services.cases.common import (
    Capacity,
    FileRef,
    add_event,
    case_cb,
    case_headline,
    excerpt,
    grid_team,
    next_number,
    tell,
    transition,
    unique_users,
)
from bot.services.cases.emergency import raise_emergency
from bot.services.cases.limits import check_emergency, check_new_case
from bot.services.dates import day_start
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.escape import esc
from bot.services.inputs import typed_text
from bot.services.media import SentFile
from bot.services.notify import Button
from bot.services.users import Option
from bot.services.workcalendar import calendar_for
from models import (
    OPEN_STATUSES,
    ActorRole,
    AttachmentKind,
    Building,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseEventType,
    CaseFollower,
    CaseKind,
    CaseStatus,
    Grid,
    ServiceItem,
    ServiceKind,
    User,
    i18n_name,
)

MAX_DESCRIPTION = 3000  # characters over all text of a case
MAX_ATTACHMENTS = 20
MAX_AUTHORISATION = 500
SIMILAR_DAYS = 7


@dataclass(frozen=True, slots=True)
class DraftSummary:
    case_id: int
    kind: CaseKind
    service: str | None
    text_length: int
    photos: int
    voices: int
    documents: int
    locations: int

    @property
    def empty(self) -> bool:
        return not (self.text_length or self.photos or self.voices or self.documents or self.locations)

    @property
    def items(self) -> int:
        return self.photos + self.voices + self.documents + self.locations


@dataclass(frozen=True, slots=True)
class SimilarCase:
    """Another resident's case, as a neighbour may see it: number, category, status; never its text."""

    id: int
    number: str
    status: CaseStatus
    submitted_at: datetime
    category: str


def _require_home(resident: User) -> None:
    if resident.building_id is None or resident.grid_id is None:
        raise NotAllowed("no_home")


async def catalogue(session: AsyncSession, kind: ServiceKind, locale: str) -> list[Option]:
    rows = await session.scalars(select(ServiceItem).where(ServiceItem.kind == kind, ServiceItem.active)
                                 .order_by(ServiceItem.sort_order, ServiceItem.code))
    return [Option(s.id, s.code, i18n_name(s.names, locale, s.code)) for s in rows]


async def pending_draft(session: AsyncSession, resident: User) -> Case | None:
    return await session.scalar(select(Case).where(Case.resident_id == resident.id, Case.status == CaseStatus.draft)
                                .order_by(Case.id.desc()).limit(1))


async def _draft(session: AsyncSession, resident: User, draft_id: int) -> Case:
    case = await session.scalar(select(Case).where(Case.id == draft_id))
    if case is None or case.resident_id != resident.id:
        raise NotFound("draft")
    if case.status != CaseStatus.draft:
        raise Conflict("already_sent", number=case.number or "")
    return case


async def start_draft(session: AsyncSession, resident: User, *, kind: CaseKind, service_id: int | None,
                      now: datetime) -> Case:
    """A new, empty draft; any unsent draft of the resident is discarded
    (handlers ask before, see :func:`pending_draft`)."""
    _require_home(resident)
    if kind == CaseKind.request:
        if service_id is not None:
            raise InvalidInput("service")
    else:
        wanted = ServiceKind.proxy if kind == CaseKind.proxy else ServiceKind.report
        service = await session.get(ServiceItem, service_id) if service_id is not None else None
        if service is None or not service.active or service.kind != wanted:
            raise NotFound("service")
    grid = await session.get(Grid, resident.grid_id)
    assert grid is not None
    await session.execute(delete(Case).where(Case.resident_id == resident.id, Case.status == CaseStatus.draft))
    case = Case(kind=kind, status=CaseStatus.draft, service_id=service_id, resident_id=resident.id,
                community_id=grid.community_id, grid_id=grid.id, building_id=resident.building_id,
                description="", created_at=now)
    session.add(case)
    await session.flush()
    return case


async def start_for_service(session: AsyncSession, resident: User, service_id: int, now: datetime) -> Case:
    """A draft for a catalogue item: a proxy errand or a problem report, as the item is."""
    service = await session.get(ServiceItem, service_id)
    if service is None or not service.active or service.kind not in (ServiceKind.proxy, ServiceKind.report):
        raise NotFound("service")
    kind = CaseKind.proxy if service.kind == ServiceKind.proxy else CaseKind.report
    return await start_draft(session, resident, kind=kind, service_id=service.id, now=now)


async def summary(session: AsyncSession, case: Case, locale: str) -> DraftSummary:
    counts = dict((await session.execute(
        select(CaseAttachment.kind, func.count()).where(CaseAttachment.case_id == case.id, CaseAttachment.phase == "intake")
        .group_by(CaseAttachment.kind))).all())
    service = await session.get(ServiceItem, case.service_id) if case.service_id else None
    return DraftSummary(
        case_id=case.id, kind=case.kind,
        service=i18n_name(service.names, locale, service.code) if service else None,
        text_length=len(case.description or ""),
        photos=counts.get(AttachmentKind.photo, 0) + counts.get(AttachmentKind.video, 0),
        voices=counts.get(AttachmentKind.voice, 0) + counts.get(AttachmentKind.audio, 0)
        + counts.get(AttachmentKind.video_note, 0),
        documents=counts.get(AttachmentKind.document, 0),
        locations=counts.get(AttachmentKind.location, 0),
    )


async def _attachment_count(session: AsyncSession, case_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(CaseAttachment)
                                    .where(CaseAttachment.case_id == case_id)) or 0)


def _append(description: str, text: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidInput("empty_text")
    combined = f"{description}\n{text}" if description else text
    if len(combined) > MAX_DESCRIPTION:
        raise InvalidInput("text_too_long", limit=MAX_DESCRIPTION)
    return combined


async def add_text(session: AsyncSession, resident: User, draft_id: int, text: str, locale: str) -> DraftSummary:
    case = await _draft(session, resident, draft_id)
    case.description = _append(case.description, text)
    await session.flush()
    return await summary(session, case, locale)


async def add_file(session: AsyncSession, resident: User, draft_id: int, ref: FileRef, locale: str,
                   now: datetime) -> DraftSummary:
    case = await _draft(session, resident, draft_id)
    if await _attachment_count(session, case.id) >= MAX_ATTACHMENTS:
        raise InvalidInput("too_many_files", limit=MAX_ATTACHMENTS)
    caption = (ref.caption or "").strip() or None
    if caption:
        case.description = _append(case.description, caption)
    session.add(CaseAttachment(case_id=case.id, uploaded_by_id=resident.id, kind=ref.kind, file_id=ref.file_id,
                               file_unique_id=ref.file_unique_id, file_name=(ref.file_name or None) and ref.file_name[:256],
                               mime_type=ref.mime_type, caption=caption, phase="intake", created_at=now))
    await session.flush()
    return await summary(session, case, locale)


async def add_location(session: AsyncSession, resident: User, draft_id: int, latitude: float, longitude: float,
                       locale: str, now: datetime) -> DraftSummary:
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput("bad_location")
    case = await _draft(session, resident, draft_id)
    if await _attachment_count(session, case.id) >= MAX_ATTACHMENTS:
        raise InvalidInput("too_many_files", limit=MAX_ATTACHMENTS)
    case.latitude, case.longitude = latitude, longitude
    session.add(CaseAttachment(case_id=case.id, uploaded_by_id=resident.id, kind=AttachmentKind.location,
                               latitude=latitude, longitude=longitude, phase="intake", created_at=now))
    await session.flush()
    return await summary(session, case, locale)


async def discard_draft(session: AsyncSession, resident: User, draft_id: int) -> None:
    case = await _draft(session, resident, draft_id)
    await session.execute(delete(Case).where(Case.id == case.id))


async def set_needed_by(session: AsyncSession, resident: User, draft_id: int, needed_by: date | None,
                        today: date) -> None:
    case = await _draft(session, resident, draft_id)
    if case.kind != CaseKind.proxy:
        raise InvalidInput("not_proxy")
    if needed_by is not None:
        if needed_by < today:
            raise InvalidInput("date_in_past")
        if needed_by > today + timedelta(days=366):
            raise InvalidInput("date_too_far")
    case.needed_by = needed_by
    await session.flush()


async def set_authorisation(session: AsyncSession, resident: User, draft_id: int, text: str) -> None:
    case = await _draft(session, resident, draft_id)
    if case.kind != CaseKind.proxy:
        raise InvalidInput("not_proxy")
    case.authorisation = typed_text(text, MAX_AUTHORISATION, one_line=True)
    await session.flush()


async def similar_cases(session: AsyncSession, resident: User, draft_id: int, now: datetime, *,
                        locale: str) -> list[SimilarCase]:
    """Open cases of the same catalogue item in the resident's building from the last 7 days.

    Only for a resident whose home is confirmed (``bot.services.homes``): a
    claimed building shows nothing of the neighbours.  Each is shown by
    number, category and status only."""
    case = await _draft(session, resident, draft_id)
    if case.service_id is None or not homes.confirmed(resident):
        return []
    service = await session.get(ServiceItem, case.service_id)
    category = i18n_name(service.names, locale, service.code) if service else ""
    rows = await session.scalars(
        select(Case).where(
            Case.building_id == resident.building_id, Case.service_id == case.service_id,
            Case.status.in_(OPEN_STATUSES), Case.submitted_at >= now - timedelta(days=SIMILAR_DAYS),
        ).order_by(Case.submitted_at.desc()).limit(3))
    return [SimilarCase(c.id, c.number or "", c.status, c.submitted_at, category) for c in rows
            if c.submitted_at is not None]


async def submit(session: AsyncSession, settings: Settings, resident: User, draft_id: int, now: datetime, *,
                 emergency: bool = False, by: User | None = None) -> Case:
    """Send the draft: number, grid, deadlines, the submitted event and the
    notifications, in the caller's transaction.  ``by``: the family member who
    sends it for ``resident`` (checked: an active link), the event's actor."""
    if by is not None and by.id != resident.id and not await family.is_delegate(session, by.id, resident.id):
        raise NotAllowed("family_not_linked")
    case = await _draft(session, resident, draft_id)
    _require_home(resident)
    await check_new_case(session, settings, resident, now)
    if emergency:  # before anything is written: refused, the draft stays a draft
        await check_emergency(session, settings, case, resident, as_resident=True, now=now)
    has_files = await _attachment_count(session, case.id) > 0
    if not emergency and not case.description and not has_files:
        raise InvalidInput("draft_empty")
    if case.kind == CaseKind.proxy and not case.authorisation and not emergency:
        raise InvalidInput("authorisation_missing")
    building = await session.get(Building, resident.building_id)
    grid = await session.get(Grid, building.grid_id) if building else None
    if building is None or grid is None:
        raise NotAllowed("no_home")
    service = await session.get(ServiceItem, case.service_id) if case.service_id else None
    limits = _promised(await time_limits(session, settings, service, now), case.needed_by, settings)
    if not await transition(session, case, [CaseStatus.draft], status=CaseStatus.new, submitted_at=now,
                            building_id=building.id, grid_id=grid.id, community_id=grid.community_id,
                            accept_due_at=limits.accept_due, resolve_due_at=limits.resolve_due,
                            description=case.description or ""):
        raise Conflict("already_sent", number=case.number or "")
    case.number = await next_number(session, grid.community_id, now.astimezone(settings.tz).year)
    await session.flush()
    delegate = by is not None and by.id != resident.id
    event = await add_event(
        session, case, CaseEventType.submitted, at=now, actor=by if delegate else resident, role=ActorRole.resident,
        data={"service": service.code if service else None, "kind": case.kind.value, **limits.event_data(),
              "needed_by": case.needed_by.isoformat() if case.needed_by else None,
              "authorisation": case.authorisation, "emergency": emergency,
              **({"delegate": True} if delegate else {})},
    )
    await session.execute(update(CaseAttachment).where(CaseAttachment.case_id == case.id,
                                                       CaseAttachment.event_id.is_(None))
                          .values(event_id=event.id).execution_options(synchronize_session=False))
    if emergency:
        await raise_emergency(session, settings, case, resident, {Capacity.resident}, now)
    else:
        await notify_new_case(session, settings, case, event.id)
    if delegate:
        assert by is not None
        number = case.number or ""
        await family.tell_resident(session, settings, by, resident.id, f"case:{case.id}:fam:sent",
                                   lambda _, name: _("👪 {name} sent a request for you: case {number}. You will "
                                                     "hear of each step in 📂 My cases.").format(name=name,
                                                                                                 number=number))
    return case


@dataclass(frozen=True, slots=True)
class _TimeLimits:
    accept_hours: int
    resolve_hours: int
    accept_due: datetime
    resolve_due: datetime

    def event_data(self) -> dict[str, Any]:
        return {"accept_due": self.accept_due.isoformat(), "resolve_due": self.resolve_due.isoformat(),
                "accept_hours": self.accept_hours, "resolve_hours": self.resolve_hours}


async def time_limits(session: AsyncSession, settings: Settings, service: ServiceItem | None,
                       now: datetime) -> _TimeLimits:
    """The service's time limits (or the defaults), due in working hours from now."""
    calendar = await calendar_for(session, settings, now=now)
    accept_hours = service.accept_hours if service else settings.case_default_accept_hours
    resolve_hours = service.resolve_hours if service else settings.case_default_resolve_hours
    return _TimeLimits(accept_hours, resolve_hours, calendar.add_working_hours(now, accept_hours),
                       calendar.add_working_hours(now, resolve_hours))


def _promised(limits: _TimeLimits, needed_by: date | None, settings: Settings) -> _TimeLimits:
    """The earlier of the catalogue's time limit and the end of the day she needs it by (issue 20:
    she chose "within 3 days" and was promised a week), never before the acceptance deadline."""
    if needed_by is None:
        return limits
    end_of_day = day_start(needed_by + timedelta(days=1), settings.tz) - timedelta(minutes=1)
    resolve_due = max(limits.accept_due, min(limits.resolve_due, end_of_day))
    return replace(limits, resolve_due=resolve_due)


async def send_at_once(session: AsyncSession, settings: Settings, kind: CaseKind, *, grid: Grid,
                       building_id: int | None, resident_id: int, service: ServiceItem | None, description: str,
                       filer: User, role: ActorRole, data: dict[str, Any], now: datetime,
                       **columns: Any) -> tuple[Case, CaseEvent]:
    """A case sent the moment it is filed, with no draft (another system's report, a problem
    found on patrol, a head's filing for a neighbour): its number, ``grid``'s community, the
    catalogue item's time limits (or the defaults) and the ``submitted`` event by ``filer`` in
    ``role``, ``data`` added to what every such event says.  Nobody is told yet."""
    limits = await time_limits(session, settings, service, now)
    case = Case(kind=kind, status=CaseStatus.new, service_id=service.id if service else None,
                resident_id=resident_id, community_id=grid.community_id, grid_id=grid.id, building_id=building_id,
                description=description, created_at=now, submitted_at=now, accept_due_at=limits.accept_due,
                resolve_due_at=limits.resolve_due, **columns)
    case.number = await next_number(session, grid.community_id, now.astimezone(settings.tz).year)
    session.add(case)
    await session.flush()
    event = await add_event(
        session, case, CaseEventType.submitted, at=now, actor=filer, role=role,
        data={"service": service.code if service else None, "kind": kind.value, **limits.event_data(),
              "needed_by": None, "authorisation": None, "emergency": False, **data})
    return case, event


class FoundFile(SentFile[AttachmentKind]):
    """A file or place a worker recorded with a problem they found."""

    __slots__ = ()


def finder_keeps(finder: User, grid_id: int) -> bool:
    """Whether a problem ``finder`` found in ``grid_id`` is theirs to fix once it is a case: a
    worker or head of that grid keeps it; staff and administrators leave it to the grid."""
    return grid_id in field_grid_ids(finder)


async def open_found_problem(
    session: AsyncSession, settings: Settings, reporter: User, *, grid_id: int, building_id: int | None,
    description: str, latitude: float | None, longitude: float | None, files: Sequence[FoundFile],
    now: datetime, source: dict[str, Any],
) -> Case:
    """A problem found on patrol, opened straight away as a sent "problem
    report" case of ``grid_id``, in the caller's transaction.

    Who may: the grid's workers and head, its community's staff, the district's
    admins.  The reporter stands as the case's filer; a worker of the grid who found it
    owns it at once (accepted, with its place: the building and the location), fixes it,
    and a colleague checks the fix; staff or an administrator who found it leave it to the
    grid's workers (a new case, as a resident's).  ``source`` goes into the ``submitted``
    event (where the case came from, e.g. a diary entry).
    """
    grid = await session.get(Grid, grid_id)
    chain = await chain_of_grid(session, grid_id)
    if grid is None or chain is None:
        raise NotFound("grid")
    if not (grid.id in field_grid_ids(reporter) or oversees(reporter, chain)):
        raise NotAllowed("not_your_grid")
    if not description and not files:
        raise InvalidInput("draft_empty")
    case, event = await send_at_once(session, settings, CaseKind.report, grid=grid, building_id=building_id,
                                     resident_id=reporter.id, service=None, description=description,
                                     filer=reporter, role=ActorRole.worker, data=source, now=now,
                                     latitude=latitude, longitude=longitude)
    session.add_all(
        CaseAttachment(case_id=case.id, event_id=event.id, uploaded_by_id=reporter.id, kind=f.kind,
                       file_id=f.file_id, file_unique_id=f.file_unique_id, latitude=f.latitude,
                       longitude=f.longitude, phase="intake", created_at=now)
        for f in files
    )
    await session.flush()
    if finder_keeps(reporter, grid.id):
        accept_due = case.accept_due_at  # as computed (the transition reloads the row)
        await transition(session, case, [CaseStatus.new], status=CaseStatus.accepted, owner_id=reporter.id,
                         accepted_at=now)
        await add_event(session, case, CaseEventType.accepted, at=now, actor=reporter, role=ActorRole.worker,
                        data={"accept_due": accept_due.isoformat(), "on_time": True, "found": True})
    else:
        await notify_new_case(session, settings, case, event.id)
    return case


async def notify_new_case(session: AsyncSession, settings: Settings, case: Case, event_id: int) -> None:
    event = await session.get(CaseEvent, event_id)
    team = await grid_team(session, case.grid_id)
    line = await case_headline(session, case)
    files = await _attachment_count(session, case.id)

    resident = await session.get(User, case.resident_id)
    found = event is not None and event.actor_role != ActorRole.resident

    def render(_, locale):  # type: ignore[no-untyped-def]
        text = _("🆕 New case {number}").format(number=case.number)
        text += "\n" + line(_, locale)
        if resident is not None and not found:  # the name the worker side sees on the card, never the account
            text += "\n" + _("Resident: {name}").format(name=esc(resident.first_name or "—"))
        if case.description:
            text += "\n“" + esc(excerpt(case.description, 300)) + "”"
        if case.kind == CaseKind.proxy:
            if case.needed_by:
                text += "\n" + _("Needed by: {date}").format(date=case.needed_by.isoformat())
            if case.authorisation:
                text += "\n" + _("Authorised: {text}").format(text=esc(excerpt(case.authorisation, 300)))
        if files:
            text += "\n" + _("📎 Attachments: {count}").format(count=files)
        text += "\n" + _("Accept by {when}").format(when=texts.when(case.accept_due_at, settings.tz))
        return text, [[Button(_("✅ Accept"), case_cb("acc", case.id))],
                      [Button(_("📄 Details"), case_cb("view", case.id))]]

    # The one who filed it is not asked to accept it (separation of duties).
    await tell(session, settings, unique_users(team, exclude=[case.resident_id]), case=case, event=event,
               render=render, step="new")


async def follow_instead(session: AsyncSession, settings: Settings, resident: User, draft_id: int, case_id: int,
                         now: datetime) -> Case:
    """Follow an open case of the same kind in the building instead of sending a duplicate.

    What the resident wrote and attached so far joins that case as a note for
    its workers; the draft goes away.
    """
    candidates = {c.id for c in await similar_cases(session, resident, draft_id, now,
                                                    locale=settings.default_locale)}
    if case_id not in candidates:
        raise NotFound("case")
    draft = await _draft(session, resident, draft_id)
    target = await session.get(Case, case_id)
    assert target is not None
    existing = await session.scalar(select(CaseFollower.id).where(CaseFollower.case_id == case_id,
                                                                   CaseFollower.user_id == resident.id))
    if existing is None and target.resident_id != resident.id:
        session.add(CaseFollower(case_id=case_id, user_id=resident.id, created_at=now))
    event = await add_event(session, target, CaseEventType.follower_joined, at=now, actor=resident,
                            role=ActorRole.resident, note=draft.description or None, public=False)
    await session.execute(update(CaseAttachment).where(CaseAttachment.case_id == draft.id)
                          .values(case_id=target.id, event_id=event.id, phase="message", public=False)
                          .execution_options(synchronize_session=False))
    await session.execute(delete(Case).where(Case.id == draft.id))
    recipients = [await session.get(User, target.owner_id)] if target.owner_id else await grid_team(session, target.grid_id)

    def render(_, locale):  # type: ignore[no-untyped-def]
        text = _("👥 Another resident of the building reports the same as case {number}.").format(number=target.number)
        if draft.description:
            text += "\n“" + esc(excerpt(draft.description, 300)) + "”"
        return text, [[Button(_("📄 Details"), case_cb("view", target.id))]]

    # Told once per resident who follows: following again (a new draft each time) alerts nobody twice.
    await tell(session, settings, unique_users(recipients), case=target, event=event, render=render,
               step=f"follower:u{resident.id}")
    return target
