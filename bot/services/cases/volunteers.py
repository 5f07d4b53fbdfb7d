"""Proxy errands (暖心代办) offered to the community's volunteers.

The case's owner offers an errand they are handling; every volunteer of the
case's community gets it with a Take button; the first to press wins (a
conditional UPDATE on ``taken_by_id IS NULL``: of two presses at once exactly
one matches, as with Accept).  The resident hears that "a volunteer is
helping", never who.  The owner stays responsible: the volunteer reports their
part done, the owner marks the case done and the resident confirms as usual.

What a volunteer sees (docs/privacy.md): before taking, the errand's category,
grid and date only; after taking, what the errand needs (the request, what
the resident authorised, the building, the resident's first name), and the
resident's phone only when the owner said the errand needs it (then each
showing is in the access log).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import volunteer_community_ids
from bot.services.cases.common import (
    Capacity,
    add_event,
    case_cb,
    case_for,
    community_volunteers,
    load_case,
    log_phone_shown,
    tell,
    unique_users,
)
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.notify import Button
from models import (
    HANDLING_STATUSES,
    OPEN_STATUSES,
    ActorRole,
    Building,
    Case,
    CaseEventType,
    CaseKind,
    CaseStatus,
    ErrandOffer,
    Grid,
    ServiceItem,
    User,
    i18n_name,
)

# Callback data of the volunteers' buttons, as handlers.org's ErrandCb packs it (written into outbox rows here).
ERRAND_CB = "er"


def errand_cb(action: str, offer_id: int) -> str:
    return f"{ERRAND_CB}:{action}:{offer_id}"


@dataclass(frozen=True, slots=True)
class Errand:
    """An errand as its volunteer sees it."""

    offer_id: int
    number: str
    category: str
    grid: str
    needed_by: date | None
    status: str
    done: bool
    # After taking it:
    request: str | None = None
    authorisation: str | None = None
    building: str | None = None
    resident: str | None = None
    phone: str | None = None


async def _category(session: AsyncSession, case: Case, locale: str) -> str:
    service = await session.get(ServiceItem, case.service_id) if case.service_id else None
    return i18n_name(service.names, locale, service.code) if service else ""


async def offer_errand(session: AsyncSession, settings: Settings, actor: User, case_id: int, *, share_phone: bool,
                       now: datetime) -> int:
    """The owner offers their proxy errand to the community's volunteers; how many were told."""
    case, _caps = await case_for(session, actor, case_id, need={Capacity.owner})
    if case.kind != CaseKind.proxy:
        raise InvalidInput("not_proxy")
    if case.status not in HANDLING_STATUSES:
        raise Conflict("wrong_status", number=case.number or "")
    if await session.scalar(select(ErrandOffer.id).where(ErrandOffer.case_id == case.id)) is not None:
        raise Conflict("errand_offered", number=case.number or "")
    volunteers = unique_users(await community_volunteers(session, case.community_id),
                              exclude=[case.resident_id, actor.id])
    if not volunteers:
        raise Conflict("no_volunteers")
    offer = ErrandOffer(case_id=case.id, community_id=case.community_id, offered_by_id=actor.id, offered_at=now,
                        share_phone=share_phone)
    session.add(offer)
    await session.flush()
    event = await add_event(session, case, CaseEventType.volunteer_offered, at=now, actor=actor,
                            role=ActorRole.worker, data={"offer": offer.id, "share_phone": share_phone},
                            public=False)
    grid = await session.get(Grid, case.grid_id)

    def render(_, locale):  # type: ignore[no-untyped-def]
        text = _("🙋 A neighbour needs a hand with an errand: {category}, {grid}.").format(
            category=category.get(locale, ""), grid=i18n_name(grid.names, locale, grid.code) if grid else "")
        if case.needed_by:
            text += "\n" + _("Needed by {day}.").format(day=case.needed_by.isoformat())
        text += "\n" + _("The first volunteer to take it gets the details.")
        return text, [[Button(_("🙋 Take it"), errand_cb("take", offer.id))]]

    category = {loc: await _category(session, case, loc) for loc in ("zh-Hans", "zh-Hant", "en")}
    return await tell(session, settings, volunteers, case=case, event=event, render=render)


async def _offer(session: AsyncSession, offer_id: int) -> ErrandOffer:
    if not 0 < offer_id < 2**63:
        raise NotFound("errand")
    offer = await session.get(ErrandOffer, offer_id, populate_existing=True)
    if offer is None:
        raise NotFound("errand")
    return offer


async def take_errand(session: AsyncSession, settings: Settings, volunteer: User, offer_id: int,
                      now: datetime) -> Case:
    """The first volunteer of the community to press Take gets the errand."""
    offer = await _offer(session, offer_id)
    if offer.community_id not in volunteer_community_ids(volunteer):
        raise NotAllowed()
    case = await load_case(session, offer.case_id)
    if case.resident_id == volunteer.id:
        raise NotAllowed("own_case", number=case.number or "")
    if offer.taken_by_id == volunteer.id:
        raise Conflict("errand_yours", number=case.number or "")
    if case.status not in HANDLING_STATUSES:
        raise Conflict("errand_gone", number=case.number or "")
    result = await session.execute(
        update(ErrandOffer).where(ErrandOffer.id == offer.id, ErrandOffer.taken_by_id.is_(None))
        .values(taken_by_id=volunteer.id, taken_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict("errand_taken", number=case.number or "")
    event = await add_event(session, case, CaseEventType.volunteer_helping, at=now, actor=volunteer,
                            role=ActorRole.volunteer, data={"offer": offer.id})
    resident = await session.get(User, case.resident_id)

    def to_resident(_, locale):  # type: ignore[no-untyped-def]
        return (_("🙋 A volunteer is helping with your errand {number}. Your grid worker stays in charge of it.")
                .format(number=case.number), [[Button(_("📄 Details"), case_cb("view", case.id))]])

    await tell(session, settings, [resident] if resident else [], case=case, event=event, render=to_resident)
    owner = await session.get(User, case.owner_id) if case.owner_id else None
    name = " ".join(p for p in (volunteer.first_name, volunteer.last_name) if p)

    def to_owner(_, locale):  # type: ignore[no-untyped-def]
        return (_("🙋 Volunteer {name} took errand {number}. You remain responsible for closing it.")
                .format(name=name, number=case.number), [[Button(_("📄 Details"), case_cb("view", case.id))]])

    await tell(session, settings, [owner] if owner else [], case=case, event=event, render=to_owner, tag="owner")
    return case


def _require_volunteer(volunteer: User) -> set[int]:
    communities = volunteer_community_ids(volunteer)
    if not communities:
        raise NotAllowed()
    return communities


async def _errand(session: AsyncSession, offer: ErrandOffer, case: Case, locale: str, *, details: bool) -> Errand:
    grid = await session.get(Grid, case.grid_id)
    base = dict(offer_id=offer.id, number=case.number or "", category=await _category(session, case, locale),
                grid=i18n_name(grid.names, locale, grid.code) if grid else "", needed_by=case.needed_by,
                status=case.status.value, done=offer.done_at is not None)
    if not details:
        return Errand(**base)
    building = await session.get(Building, case.building_id) if case.building_id else None
    resident = await session.get(User, case.resident_id)
    return Errand(**base, request=case.description, authorisation=case.authorisation,
                  building=i18n_name(building.names, locale, building.code) if building else None,
                  resident=resident.first_name if resident else None,
                  phone=resident.phone if resident is not None and offer.share_phone else None)


async def my_errands(session: AsyncSession, volunteer: User, locale: str, *, limit: int = 20) -> list[Errand]:
    """The errands ``volunteer`` took that are still open (newest first), without details."""
    _require_volunteer(volunteer)
    rows = (await session.execute(
        select(ErrandOffer, Case).join(Case, Case.id == ErrandOffer.case_id)
        .where(ErrandOffer.taken_by_id == volunteer.id, Case.status.in_(OPEN_STATUSES))
        .order_by(ErrandOffer.taken_at.desc()).limit(limit))).all()
    return [await _errand(session, offer, case, locale, details=False) for offer, case in rows]


async def errand(session: AsyncSession, volunteer: User, offer_id: int, locale: str, now: datetime) -> Errand:
    """One errand ``volunteer`` took, with what it needs; the phone's showing is logged."""
    _require_volunteer(volunteer)
    offer = await _offer(session, offer_id)
    if offer.taken_by_id != volunteer.id:
        raise NotFound("errand")  # someone else's, or never theirs: the same answer
    case = await load_case(session, offer.case_id)
    if case.status == CaseStatus.closed:
        raise NotFound("errand")  # closed: the volunteer's sight of it ends
    shown = await _errand(session, offer, case, locale, details=True)
    if shown.phone:
        await log_phone_shown(session, volunteer, case, now)
    return shown


async def errand_done(session: AsyncSession, settings: Settings, volunteer: User, offer_id: int,
                      now: datetime) -> Case:
    """The volunteer says their part is done; the case's owner checks and marks the case done."""
    _require_volunteer(volunteer)
    offer = await _offer(session, offer_id)
    if offer.taken_by_id != volunteer.id:
        raise NotFound("errand")
    case = await load_case(session, offer.case_id)
    result = await session.execute(
        update(ErrandOffer).where(ErrandOffer.id == offer.id, ErrandOffer.done_at.is_(None))
        .values(done_at=now).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise Conflict("errand_done", number=case.number or "")
    event = await add_event(session, case, CaseEventType.volunteer_done, at=now, actor=volunteer,
                            role=ActorRole.volunteer, public=False)
    owner = await session.get(User, case.owner_id) if case.owner_id else None

    def render(_, locale):  # type: ignore[no-untyped-def]
        return (_("🙋 The volunteer says errand {number} is done. Please check with the resident, then mark "
                  "the case done.").format(number=case.number),
                [[Button(_("📄 Details"), case_cb("view", case.id))]])

    await tell(session, settings, [owner] if owner else [], case=case, event=event, render=render)
    return case
