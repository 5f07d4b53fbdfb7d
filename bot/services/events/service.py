"""Service days and project services (志愿服务日, free clinics, policy talks at a
station): announced by community staff, signed up to and cancelled by button,
with a waiting list, reminders through the delivery engine, attendance marked
by staff and hours credited to the volunteers who came.

Seats are counted under a lock on the event's row (every sign-up and cancel
first bumps ``service_events.version``: PostgreSQL queues them on the row,
SQLite has one writer), so a full event never takes one more, and a seat
freed by a cancel goes to the first on the waiting list, who is told.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import admin_district_ids, staff_community_ids, volunteer_community_ids
from bot.services.broadcasts import parse_schedule
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.escape import esc
from bot.services.l10n import translator
from bot.services.notify import Button, notify, recipient_locale
from models import (
    Community,
    EventAudience,
    EventSignup,
    EventStatus,
    Grid,
    OutboxKind,
    Role,
    RoleGrant,
    ScopeType,
    ServiceEvent,
    SignupStatus,
    User,
    i18n_name,
)

MAX_TEXT = 200
MAX_CAPACITY = 10_000
MAX_HOURS = 24
MAX_AHEAD = timedelta(days=366)
REMIND_BEFORE = timedelta(hours=24)
# Callback data of the event buttons, as handlers.events' EventCb packs it (written into outbox rows here).
EVENT_CB = "ev"


def event_cb(action: str, event_id: int, arg: int = 0) -> str:
    return f"{EVENT_CB}:{action}:{event_id}:{arg}"


@dataclass(frozen=True, slots=True)
class Draft:
    """An event as the staff member typed it, checked."""

    title: str
    starts_at: datetime
    place: str
    capacity: int
    hours: int


@dataclass(frozen=True, slots=True)
class EventCard:
    id: int
    title: str
    place: str
    starts_at: datetime
    capacity: int
    hours: int
    audience: EventAudience
    status: EventStatus
    community: str
    going: int
    waiting: int
    mine: SignupStatus | None  # the reader's sign-up
    position: int | None  # the reader's place on the waiting list (1 = next)
    manages: bool  # the reader is staff of its community


@dataclass(frozen=True, slots=True)
class Attendee:
    signup_id: int
    name: str
    volunteer: bool
    attended: bool | None
    event_id: int = 0


# ------------------------------------------------------------------ permissions

def _managed(user: User) -> set[int]:
    return set(staff_community_ids(user))


async def _may_manage(session: AsyncSession, user: User, community_id: int) -> bool:
    if community_id in staff_community_ids(user):
        return True
    districts = admin_district_ids(user)
    return bool(districts) and await session.scalar(
        select(Community.district_id).where(Community.id == community_id)) in districts


async def _event(session: AsyncSession, event_id: int, *, lock: bool = False) -> ServiceEvent:
    if not 0 < event_id < 2**63:
        raise NotFound("event")
    if lock:  # the seat lock: bump the row first (see the module)
        await session.execute(update(ServiceEvent).where(ServiceEvent.id == event_id)
                              .values(version=ServiceEvent.version + 1))
    event = await session.get(ServiceEvent, event_id, populate_existing=True)
    if event is None:
        raise NotFound("event")
    return event


async def _resident_of(session: AsyncSession, user: User, community_id: int) -> bool:
    if user.grid_id is None or user.building_id is None or not user.is_registered:
        return False
    return await session.scalar(select(Grid.community_id).where(Grid.id == user.grid_id)) == community_id


async def _may_join(session: AsyncSession, user: User, event: ServiceEvent) -> bool | None:
    """None: ``user`` may not sign up; else whether they come as a volunteer."""
    volunteer = event.community_id in volunteer_community_ids(user)
    if event.audience in (EventAudience.volunteers, EventAudience.both) and volunteer:
        return True
    if event.audience in (EventAudience.residents, EventAudience.both) \
            and await _resident_of(session, user, event.community_id):
        return False
    return None


# ------------------------------------------------------------------ announcing

def parse_draft(text: str, now: datetime, settings: Settings) -> Draft:
    """Five lines typed by staff: title; date and time (``2026-12-20 09:00``); place;
    capacity; volunteer hours credited (optional, 2)."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(lines) not in (4, 5):
        raise InvalidInput("event_form")
    title, when, place, capacity = lines[:4]
    if len(title) > MAX_TEXT or len(place) > MAX_TEXT or title.startswith("/"):
        raise InvalidInput("event_too_long", limit=MAX_TEXT)
    try:
        starts_at = parse_schedule(when, now, settings.tz)
    except InvalidInput:
        raise InvalidInput("event_when") from None
    if starts_at <= now:
        raise InvalidInput("event_past")
    if starts_at > now + MAX_AHEAD:
        raise InvalidInput("event_too_far")
    numbers = []
    for raw, top in ((capacity, MAX_CAPACITY), (lines[4] if len(lines) == 5 else "2", MAX_HOURS)):
        digits = "".join(ch for ch in raw if ch.isdigit())
        if not digits or len(digits) > 6 or not 0 < int(digits) <= top:
            raise InvalidInput("event_number", limit=top)
        numbers.append(int(digits))
    return Draft(title, starts_at, place, numbers[0], numbers[1])


async def announce(session: AsyncSession, settings: Settings, actor: User, community_id: int, draft: Draft,
                   audience: EventAudience, now: datetime) -> ServiceEvent:
    """Create the event and tell its audience (residents of the community, its volunteers, or both)."""
    if not await _may_manage(session, actor, community_id):
        raise NotAllowed()
    if draft.starts_at <= now:
        raise InvalidInput("event_past")
    event = ServiceEvent(community_id=community_id, title=draft.title, place=draft.place, starts_at=draft.starts_at,
                         hours=draft.hours, capacity=draft.capacity, audience=audience, status=EventStatus.open,
                         created_by_id=actor.id, created_at=now, version=0)
    session.add(event)
    await session.flush()
    conditions = []
    if audience in (EventAudience.residents, EventAudience.both):
        conditions.append(and_(User.grid_id.in_(select(Grid.id).where(Grid.community_id == community_id)),
                               User.building_id.is_not(None), User.registered_at.is_not(None)))
    if audience in (EventAudience.volunteers, EventAudience.both):
        conditions.append(User.id.in_(select(RoleGrant.user_id).where(
            RoleGrant.role == Role.volunteer, RoleGrant.scope_type == ScopeType.community,
            RoleGrant.scope_id == community_id)))
    people = await session.scalars(select(User).where(or_(*conditions), User.telegram_id.is_not(None),
                                                      User.unreachable.is_(False)).order_by(User.id))
    for person in people:
        locale = recipient_locale(person, settings.default_locale)
        _ = translator(locale)
        text = _("📣 {title}\n🕘 {when}\n📍 {place}\nSeats: {capacity}").format(
            title=esc(event.title), when=event.starts_at.astimezone(settings.tz).strftime("%Y-%m-%d %H:%M"),
            place=esc(event.place), capacity=event.capacity)
        await notify(session, recipient=person, kind=OutboxKind.broadcast, dedupe_key=f"ev:{event.id}:new:{person.id}",
                     text=text, buttons=[[Button(_("✋ Sign up"), event_cb("join", event.id))]])
    return event


# ------------------------------------------------------------------ signing up

async def _going(session: AsyncSession, event_id: int) -> int:
    return int(await session.scalar(select(func.count()).select_from(EventSignup).where(
        EventSignup.event_id == event_id, EventSignup.status == SignupStatus.going)) or 0)


def _check_open(event: ServiceEvent, now: datetime) -> None:
    if event.status != EventStatus.open or event.starts_at <= now:
        raise Conflict("event_closed")


async def sign_up(session: AsyncSession, user: User, event_id: int, now: datetime) -> SignupStatus:
    """A seat if one is free, else the waiting list; checked on every press."""
    event = await _event(session, event_id, lock=True)
    as_volunteer = await _may_join(session, user, event)
    if as_volunteer is None:
        raise NotAllowed()
    _check_open(event, now)
    signup = await session.scalar(select(EventSignup).where(EventSignup.event_id == event.id,
                                                            EventSignup.user_id == user.id))
    if signup is not None and signup.status != SignupStatus.cancelled:
        raise Conflict("event_already", status=signup.status.value)
    status = SignupStatus.going if await _going(session, event.id) < event.capacity else SignupStatus.waiting
    if signup is None:
        session.add(EventSignup(event_id=event.id, user_id=user.id, as_volunteer=as_volunteer, status=status,
                                created_at=now, updated_at=now))
    else:  # back again: at the end of the waiting list
        signup.status, signup.updated_at, signup.as_volunteer = status, now, as_volunteer
    await session.flush()
    return status


async def cancel(session: AsyncSession, settings: Settings, user: User, event_id: int, now: datetime) -> bool:
    """Give up a seat (or a place on the waiting list); the first waiting takes a freed seat
    and is told.  Returns whether someone was promoted."""
    event = await _event(session, event_id, lock=True)
    signup = await session.scalar(select(EventSignup).where(EventSignup.event_id == event.id,
                                                            EventSignup.user_id == user.id))
    if signup is None or signup.status == SignupStatus.cancelled:
        raise Conflict("event_not_signed")
    _check_open(event, now)
    freed = signup.status == SignupStatus.going
    signup.status, signup.updated_at = SignupStatus.cancelled, now
    await session.flush()
    if not freed or await _going(session, event.id) >= event.capacity:
        return False
    first = await session.scalar(select(EventSignup).where(
        EventSignup.event_id == event.id, EventSignup.status == SignupStatus.waiting)
        .order_by(EventSignup.updated_at, EventSignup.id).limit(1))
    if first is None:
        return False
    first.status, first.updated_at = SignupStatus.going, now
    await session.flush()
    person = await session.get(User, first.user_id)
    if person is not None:
        locale = recipient_locale(person, settings.default_locale)
        _ = translator(locale)
        await notify(session, recipient=person, kind=OutboxKind.case_update,
                     dedupe_key=f"ev:{event.id}:up:{person.id}:{int(now.timestamp())}",
                     text=_("🎉 A seat came free: you are now signed up for {title} ({when}).").format(
                         title=esc(event.title), when=event.starts_at.astimezone(settings.tz).strftime("%m-%d %H:%M")),
                     buttons=[[Button(_("📄 Details"), event_cb("view", event.id))]])
    return True


# ------------------------------------------------------------------ reading

async def card(session: AsyncSession, user: User, event_id: int, locale: str) -> EventCard:
    event = await _event(session, event_id)
    manages = await _may_manage(session, user, event.community_id)
    mine = await session.scalar(select(EventSignup).where(EventSignup.event_id == event.id,
                                                          EventSignup.user_id == user.id))
    if not manages and mine is None and await _may_join(session, user, event) is None:
        raise NotFound("event")  # not theirs to see: the same answer as none
    counts = dict((await session.execute(select(EventSignup.status, func.count()).where(
        EventSignup.event_id == event.id).group_by(EventSignup.status))).all())
    position = None
    if mine is not None and mine.status == SignupStatus.waiting:
        position = 1 + int(await session.scalar(select(func.count()).select_from(EventSignup).where(
            EventSignup.event_id == event.id, EventSignup.status == SignupStatus.waiting,
            or_(EventSignup.updated_at < mine.updated_at,
                and_(EventSignup.updated_at == mine.updated_at, EventSignup.id < mine.id)))) or 0)
    community = await session.get(Community, event.community_id)
    return EventCard(event.id, event.title, event.place, event.starts_at, event.capacity, event.hours, event.audience,
                     event.status, i18n_name(community.names, locale, community.code) if community else "",
                     int(counts.get(SignupStatus.going, 0)), int(counts.get(SignupStatus.waiting, 0)),
                     mine.status if mine is not None else None, position, manages)


async def upcoming(session: AsyncSession, user: User, now: datetime, *, limit: int = 10) -> list[ServiceEvent]:
    """Open events the user may join or manages, soonest first."""
    rows = await session.scalars(select(ServiceEvent).where(ServiceEvent.status == EventStatus.open,
                                                            ServiceEvent.starts_at > now)
                                 .order_by(ServiceEvent.starts_at, ServiceEvent.id).limit(200))
    out = []
    for event in rows:
        if await _may_manage(session, user, event.community_id) or await _may_join(session, user, event) is not None:
            out.append(event)
        if len(out) >= limit:
            break
    return out


async def volunteer_hours(session: AsyncSession, user: User) -> int:
    """The volunteer hours credited to ``user`` at the service days they came to, in all."""
    return int(await session.scalar(select(func.coalesce(func.sum(EventSignup.hours), 0)).where(
        EventSignup.user_id == user.id, EventSignup.status == SignupStatus.going)) or 0)


def managed_communities(user: User) -> set[int]:
    return _managed(user)


async def attendees(session: AsyncSession, actor: User, event_id: int) -> list[Attendee]:
    """Who is going, for staff marking attendance."""
    event = await _event(session, event_id)
    if not await _may_manage(session, actor, event.community_id):
        raise NotFound("event")
    rows = (await session.execute(select(EventSignup, User).join(User, User.id == EventSignup.user_id).where(
        EventSignup.event_id == event.id, EventSignup.status == SignupStatus.going)
        .order_by(EventSignup.id))).all()
    return [Attendee(s.id, " ".join(p for p in (u.first_name, u.last_name) if p) or "—", s.as_volunteer, s.attended,
                     event.id) for s, u in rows]


async def mark(session: AsyncSession, settings: Settings, actor: User, signup_id: int, attended: bool,
               now: datetime) -> Attendee:
    """Staff mark one person came (or not); a volunteer who came is credited the event's hours
    and told so (once per event).  Marking is open from the start of the event; the event
    counts as held from the first mark."""
    if not 0 < signup_id < 2**63:
        raise NotFound("event")
    signup = await session.get(EventSignup, signup_id)
    if signup is None or signup.status != SignupStatus.going:
        raise NotFound("event")
    event = await _event(session, signup.event_id)
    if not await _may_manage(session, actor, event.community_id):
        raise NotFound("event")
    if event.status == EventStatus.cancelled:
        raise Conflict("event_closed")
    if now < event.starts_at:
        raise Conflict("event_not_started")
    signup.attended, signup.updated_at = attended, now
    signup.hours = event.hours if attended and signup.as_volunteer else 0
    if event.status == EventStatus.open:
        event.status, event.held_at = EventStatus.held, now
    await session.flush()
    user = await session.get(User, signup.user_id)
    if user is not None and signup.hours:
        _ = translator(recipient_locale(user, settings.default_locale))
        await notify(session, recipient=user, kind=OutboxKind.nudge, dedupe_key=f"ev:{event.id}:hours:{user.id}",
                     text=_.ngettext("🙏 Thank you for helping at {title}: {hours} volunteer hour is credited to you.",
                                     "🙏 Thank you for helping at {title}: {hours} volunteer hours are credited to "
                                     "you.", signup.hours).format(title=esc(event.title), hours=signup.hours))
    return Attendee(signup.id, user.first_name if user else "—", signup.as_volunteer, attended, event.id)
