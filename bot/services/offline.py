"""People without Telegram (often the oldest residents): a worker of their grid,
or the head of their building or unit, types them in and then acts for them —
books an appointment (``bot.services.appointments``) or files a case
(``bot.services.org``).  They are ``User`` rows with no Telegram id.

Who reaches whom is :func:`bot.services.access.homes_reached`: a grid worker
or grid head their grids' people, a building head their building's, a unit
head their unit's.  A head's new neighbour lives in the head's building (and
unit), so a head reaches every person they add.  Plain data in and out.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import field_grid_ids, headed, heads_home, homes_reached
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from models import Building, User

MAX_NAME = 64
_PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")


def clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > MAX_NAME or name.startswith("/"):
        raise InvalidInput("appt_name", limit=MAX_NAME)
    return name


def clean_phone(phone: str) -> str:
    cleaned = re.sub(r"[\s()-]", "", phone or "")
    if not _PHONE_RE.match(cleaned):
        raise InvalidInput("bad_phone")
    return cleaned


def require_reach(actor: User) -> None:
    """``NotAllowed`` unless ``actor`` reaches someone's home (works a grid, heads a building or unit)."""
    _reached(actor)


def _reached(actor: User):  # type: ignore[no-untyped-def]
    where = homes_reached(actor)
    if where is None:
        raise NotAllowed()
    return where


async def offline_residents(session: AsyncSession, actor: User, *, limit: int = 20) -> list[User]:
    """People without Telegram whom ``actor`` reaches, most recently added first."""
    return list(await session.scalars(select(User).where(User.telegram_id.is_(None), _reached(actor))
                                      .order_by(User.id.desc()).limit(limit)))


def reaches(actor: User, person: User) -> bool:
    return person.grid_id in field_grid_ids(actor) or heads_home(actor, person.building_id, person.unit)


async def add_offline_resident(session: AsyncSession, actor: User, name: str, phone: str,
                               now: datetime) -> tuple[User, bool]:
    """A resident without Telegram, typed in by a worker of their grid or the head of their
    building (unit).  The same phone among the people ``actor`` reaches is the same person
    (their no-shows add up).  Returns the person and whether they were new."""
    where = _reached(actor)
    name, phone = clean_name(name), clean_phone(phone)
    existing = await session.scalar(select(User).where(
        User.telegram_id.is_(None), User.phone == phone, where).limit(1))
    if existing is not None:
        return existing, False
    person = User(telegram_id=None, first_name=name, phone=phone, registered_at=now, created_at=now, roles=[])
    grids = sorted(field_grid_ids(actor))
    if grids:
        person.grid_id = grids[0]
    else:  # a head: the neighbour lives in the head's (first) building, in their unit
        building_id, units = sorted(headed(actor).items())[0]
        building = await session.get(Building, building_id)
        if building is None:
            raise NotAllowed()
        person.building_id, person.grid_id = building.id, building.grid_id
        person.unit = min(units) if units else None
        # The head stands for the address: they live there and know the neighbour.
        person.home_confirmed_at, person.home_confirmed_by_id = now, actor.id
    session.add(person)
    await session.flush()
    return person, True


async def offline_resident(session: AsyncSession, actor: User, resident_id: int) -> User:
    """One person without Telegram whom ``actor`` reaches; ``NotFound`` for anyone else (forged ids)."""
    if not 0 < resident_id < 2**63:
        raise NotFound("appt_resident")
    person = await session.get(User, resident_id)
    if person is None or person.telegram_id is not None or not reaches(actor, person):
        raise NotFound("appt_resident")
    return person
