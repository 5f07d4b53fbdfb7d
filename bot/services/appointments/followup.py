"""After a missed appointment: a proxy errand or a home visit instead.

The resident answers the offer (:func:`bot.services.appointments.notify.offer_after_no_show`)
with one of two buttons; either opens a case of issue 3's closed loop through
:func:`open_case`, the one function that talks to the case intake API
(``bot.services.cases``): a *proxy* case for the catalogue's proxy errand the
resident picks (their tap is the authorisation, its text is shown to them
first), or a *request* case asking for a home visit.  The grid's workers are
told by the case loop itself; the booking remembers the case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import cases
from bot.services.appointments.common import describe
from bot.services.appointments.texts import when_label
from bot.services.errors import Conflict, NotFound
from bot.services.l10n import translator
from bot.services.users import Option
from models import Appointment, AppointmentStatus, CaseKind, FollowUp, ServiceKind, User


@dataclass(frozen=True, slots=True)
class OpenedCase:
    case_id: int
    number: str


async def open_case(session: AsyncSession, settings: Settings, resident: User, *, proxy_service_id: int | None,
                    text: str, authorisation: str | None, now: datetime) -> OpenedCase:
    """Open and send a case for ``resident`` through the case intake (issue 3).

    ``proxy_service_id`` given: a proxy errand of that catalogue item, with
    ``authorisation``; otherwise a free request.  A draft the resident is still
    writing is never thrown away: ``Conflict("appt_case_draft")`` instead.
    """
    if await cases.pending_draft(session, resident) is not None:
        raise Conflict("appt_case_draft")
    kind = CaseKind.proxy if proxy_service_id is not None else CaseKind.request
    draft = await cases.start_draft(session, resident, kind=kind, service_id=proxy_service_id, now=now)
    await cases.add_text(session, resident, draft.id, text, resident.locale or settings.default_locale)
    if authorisation is not None:
        await cases.set_authorisation(session, resident, draft.id, authorisation)
    case = await cases.submit(session, settings, resident, draft.id, now)
    return OpenedCase(case.id, case.number or "")


async def proxy_services(session: AsyncSession, locale: str) -> list[Option]:
    return await cases.catalogue(session, ServiceKind.proxy, locale)


async def _missed(session: AsyncSession, resident: User, appointment_id: int) -> Appointment:
    a = await session.get(Appointment, appointment_id, populate_existing=True, with_for_update=True)
    if a is None or a.resident_id != resident.id:
        raise NotFound("appt")
    if a.status != AppointmentStatus.no_show:
        raise Conflict("appt_not_missed")
    if a.follow_up not in (None, FollowUp.offered):
        raise Conflict("appt_followup_done")
    return a


async def check_offer(session: AsyncSession, resident: User, appointment_id: int) -> None:
    """Raise unless the offer is still open (before showing its next step)."""
    await _missed(session, resident, appointment_id)


async def errand_options(session: AsyncSession, resident: User, appointment_id: int, locale: str) -> list[Option]:
    """The proxy errands to choose from, while the offer is open."""
    await _missed(session, resident, appointment_id)
    return await proxy_services(session, locale)


async def errand_option(session: AsyncSession, resident: User, appointment_id: int, service_id: int,
                        locale: str) -> Option:
    """The proxy errand picked, while the offer is open; ``NotFound("appt_service")``
    when it is not one of the catalogue's proxy errands."""
    await _missed(session, resident, appointment_id)
    return await _errand(session, service_id, locale)


async def _errand(session: AsyncSession, service_id: int, locale: str) -> Option:
    option = next((o for o in await proxy_services(session, locale) if o.id == service_id), None)
    if option is None:
        raise NotFound("appt_service")
    return option


def authorisation_text(locale: str, service: str) -> str:
    _ = translator(locale)
    return _("I authorise my grid worker to handle “{service}” for me.").format(service=service)


async def proxy_errand(session: AsyncSession, settings: Settings, resident: User, appointment_id: int,
                       service_id: int, now: datetime) -> OpenedCase:
    a = await _missed(session, resident, appointment_id)
    locale = resident.locale or settings.default_locale
    errand = await _errand(session, service_id, locale)
    view = await describe(session, settings, a, locale)
    _ = translator(locale)
    text = _("Instead of the missed appointment ({service} at {station}, {when}), please run this errand "
             "for me: {errand}.").format(service=view.service, station=view.station,
                                        when=when_label(_, view.starts_at, settings.tz),
                                        errand=errand.name)
    opened = await open_case(session, settings, resident, proxy_service_id=service_id, text=text,
                             authorisation=authorisation_text(locale, errand.name), now=now)
    a.follow_up, a.follow_up_case_id, a.updated_at = FollowUp.proxy, opened.case_id, now
    await session.flush()
    return opened


async def home_visit(session: AsyncSession, settings: Settings, resident: User, appointment_id: int,
                     now: datetime) -> OpenedCase:
    a = await _missed(session, resident, appointment_id)
    locale = resident.locale or settings.default_locale
    view = await describe(session, settings, a, locale)
    _ = translator(locale)
    text = _("I missed my appointment ({service} at {station}, {when}). Please visit me at home "
             "instead.").format(service=view.service, station=view.station,
                                when=when_label(_, view.starts_at, settings.tz))
    opened = await open_case(session, settings, resident, proxy_service_id=None, text=text, authorisation=None,
                             now=now)
    a.follow_up, a.follow_up_case_id, a.updated_at = FollowUp.home_visit, opened.case_id, now
    await session.flush()
    return opened
