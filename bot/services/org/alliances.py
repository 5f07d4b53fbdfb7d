"""The community's alliance units (红色联盟): local employers and institutions
whose people serve the residents, as ``import-org`` brings them in."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import field_grid_ids, staff_community_ids, volunteer_community_ids
from bot.services.errors import NotAllowed
from models import AllianceUnit, Grid, User, i18n_name


@dataclass(frozen=True, slots=True)
class Alliance:
    name: str
    contact: str | None
    offers: str | None


async def alliances(session: AsyncSession, user: User, locale: str) -> list[Alliance]:
    """The active alliance units of the communities ``user`` serves (as staff, volunteer or grid worker)."""
    communities = staff_community_ids(user) | volunteer_community_ids(user)
    if grids := field_grid_ids(user):
        communities |= set(await session.scalars(select(Grid.community_id).where(Grid.id.in_(sorted(grids)))))
    if not communities:
        raise NotAllowed()
    rows = await session.scalars(select(AllianceUnit).where(AllianceUnit.community_id.in_(sorted(communities)),
                                                            AllianceUnit.active).order_by(AllianceUnit.code))
    return [Alliance(i18n_name(a.names, locale, a.code), a.contact, a.offers) for a in rows]
