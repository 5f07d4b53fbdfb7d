"""The service catalogue as Open311 services: the district's problem-report
items that are not private, named in the asker's language.

Only problem reports are offered: proxy errands are personal matters (never
published), appointments and consultations are booked at a station, not
reported.  Every item has one attribute, ``location_detail`` (where exactly:
a stairwell, the east gate), which joins the description of a filed request.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.services import cases
from bot.services.errors import NotFound
from bot.services.l10n import translator
from models import CaseKind, ServiceItem, ServiceKind, i18n_name

LOCATION_DETAIL = "location_detail"
MAX_LOCATION_DETAIL = 200


@dataclass(frozen=True, slots=True)
class PublicService:
    code: str
    name: str
    description: str | None
    metadata: bool
    type: str  # realtime: a request is filed at once and gets its id in the answer
    keywords: str | None
    group: str


@dataclass(frozen=True, slots=True)
class Attribute:
    code: str
    variable: bool
    datatype: str
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Definition:
    service_code: str
    attributes: tuple[Attribute, ...]


async def _offered(session: AsyncSession) -> list[ServiceItem]:
    return list(await session.scalars(
        select(ServiceItem).where(ServiceItem.kind == ServiceKind.report, ServiceItem.active,
                                  ServiceItem.private.is_(False))
        .order_by(ServiceItem.sort_order, ServiceItem.code)))


def _public(item: ServiceItem, locale: str) -> PublicService:
    _ = translator(locale)
    others = [i18n_name(item.names, other) for other in SUPPORTED_LOCALES if other != locale]
    keywords = ",".join(dict.fromkeys(k.replace(",", " ") for k in others if k))
    return PublicService(
        code=item.code, name=i18n_name(item.names, locale, item.code),
        description=i18n_name(item.descriptions, locale) or None, metadata=True, type="realtime",
        keywords=keywords or None, group=cases.kind_label(_, CaseKind.report))


async def services(session: AsyncSession, locale: str) -> list[PublicService]:
    return [_public(item, locale) for item in await _offered(session)]


async def offered(session: AsyncSession, code: str) -> ServiceItem:
    """The item a request may be filed under; ``NotFound`` when it is not offered."""
    for item in await _offered(session):
        if item.code == code:
            return item
    raise NotFound("service")


def attributes(locale: str) -> tuple[Attribute, ...]:
    _ = translator(locale)
    return (Attribute(code=LOCATION_DETAIL, variable=True, datatype="string", required=False,
                      datatype_description=_("Up to 200 characters; no flat or room number."), order=1,
                      description=_("Where exactly (for example the stairwell, the east gate)")),)


async def definition(session: AsyncSession, code: str, locale: str) -> Definition:
    item = await offered(session, code)
    return Definition(service_code=item.code, attributes=attributes(locale))
