"""Home claims: anyone can say they live in a building; only a worker of its
grid (a grid worker or grid head, by their current grants) or the building's
own head (楼栋长; a unit head for a neighbour of their unit) can confirm it.

Until a resident's home is confirmed it is a *claim*: the resident can ask
for help as before (their cases go to the grid, which then meets them), but
nothing that tells them about their neighbours is offered (the "similar case
in your building" offer of ``bot.services.cases``).  An organisation file
(``import-org``, the demo district of ``seed-demo``) states where people
live, so the people it names are confirmed by it.  The household ledger is
not used to confirm anyone: a household record carries a label, not a phone,
and a name is something anyone can type.

Choosing another building makes the home a claim again.  Rejecting a claim
clears the resident's building (they choose again); their cases stay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import field_grid_ids, heads_home, homes_reached
from bot.services.errors import Conflict, NotAllowed, NotFound
from bot.services.escape import esc
from bot.services.l10n import translator
from bot.services.notify import notify, recipient_locale
from models import Building, OutboxKind, User, i18n_name

MAX_ID = 2**63 - 1  # ids come from buttons, which can be forged


@dataclass(frozen=True, slots=True)
class Claim:
    user_id: int
    name: str
    building: str
    registered_at: datetime | None


def confirmed(user: User) -> bool:
    """Whether ``user``'s home building is confirmed (not only claimed)."""
    return user.building_id is not None and user.home_confirmed_at is not None


def moved(user: User, building_id: int) -> None:
    """The user chose ``building_id`` as their home: a new building is a new claim."""
    if user.building_id != building_id:
        user.home_confirmed_at = None
        user.home_confirmed_by_id = None


def stated(user: User, now: datetime) -> None:
    """An organisation file states the user's home: confirmed by it (nobody in person)."""
    if user.building_id is not None and user.home_confirmed_at is None:
        user.home_confirmed_at, user.home_confirmed_by_id = now, None


def _claims_where(confirmer: User):  # type: ignore[no-untyped-def]
    """The claims ``confirmer`` may settle (None when they may settle none): in the
    grids they work, and in the buildings (units) they head."""
    reached = homes_reached(confirmer)
    if reached is None:
        return None
    return (reached, User.building_id.is_not(None), User.home_confirmed_at.is_(None),
            User.registered_at.is_not(None), User.telegram_id.is_not(None), User.id != confirmer.id)


def may_confirm(confirmer: User, resident: User) -> bool:
    """A worker of the resident's grid, or the head of their building (unit)."""
    return resident.grid_id in field_grid_ids(confirmer) or heads_home(confirmer, resident.building_id,
                                                                        resident.unit)


async def claims_count(session: AsyncSession, worker: User) -> int:
    """How many claims wait for ``worker`` (0 for anyone who works no grid and heads no building)."""
    where = _claims_where(worker)
    if where is None:
        return 0
    return int(await session.scalar(select(func.count()).select_from(User).where(*where)) or 0)


async def claims(session: AsyncSession, worker: User, locale: str, *, limit: int = 10) -> list[Claim]:
    """The oldest claims ``worker`` may settle (never their own)."""
    where = _claims_where(worker)
    if where is None:
        raise NotAllowed()
    rows = (await session.execute(
        select(User, Building).join(Building, Building.id == User.building_id)
        .where(*where).order_by(User.registered_at, User.id).limit(limit))).all()
    return [Claim(u.id, " ".join(p for p in (u.first_name, u.last_name) if p) or "—",
                  i18n_name(b.names, locale, b.code), u.registered_at) for u, b in rows]


async def _claim(session: AsyncSession, worker: User, user_id: int) -> tuple[User, Building]:
    if not 0 < user_id <= MAX_ID:
        raise NotFound("claim")
    resident = await session.get(User, user_id)
    if resident is None or resident.building_id is None or not may_confirm(worker, resident):
        raise NotFound("claim")  # answered as if it did not exist: ids cannot be probed
    if resident.id == worker.id:
        raise NotAllowed("own_home")
    if resident.home_confirmed_at is not None:
        raise Conflict("claim_settled")
    building = await session.get(Building, resident.building_id)
    if building is None:
        raise NotFound("claim")
    return resident, building


async def confirm(session: AsyncSession, settings: Settings, worker: User, user_id: int, now: datetime) -> str:
    """The worker confirms that the resident lives in the building they chose; the resident is told.
    Returns the resident's name."""
    resident, building = await _claim(session, worker, user_id)
    resident.home_confirmed_at, resident.home_confirmed_by_id = now, worker.id
    locale = recipient_locale(resident, settings.default_locale)
    _ = translator(locale)
    where = esc(i18n_name(building.names, locale, building.code))
    text = (_("🏠 Your grid worker has confirmed that you live in {building}.") if resident.grid_id in
            field_grid_ids(worker) else _("🏠 Your building head has confirmed that you live in {building}."))
    await notify(session, recipient=resident, kind=OutboxKind.case_update, dedupe_key=f"home:{resident.id}:ok:{int(now.timestamp())}",
                 text=text.format(building=where))
    await session.flush()
    return resident.first_name


async def reject(session: AsyncSession, settings: Settings, worker: User, user_id: int, now: datetime) -> str:
    """The worker does not know the resident in that building: the building is cleared (the
    resident chooses again) and they are told.  Returns the resident's name."""
    resident, building = await _claim(session, worker, user_id)
    resident.building_id = resident.grid_id = None
    resident.home_confirmed_by_id = None
    locale = recipient_locale(resident, settings.default_locale)
    _ = translator(locale)
    await notify(session, recipient=resident, kind=OutboxKind.case_update, dedupe_key=f"home:{resident.id}:no:{int(now.timestamp())}",
                 text=_("🏠 Your grid worker could not confirm that you live in {building}. Write to me to "
                        "choose your building again, or talk to your grid worker.").format(
                     building=esc(i18n_name(building.names, locale, building.code))))
    await session.flush()
    return resident.first_name
