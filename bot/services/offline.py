"""People without Telegram (often the oldest residents): a worker of their grid,
or the head of their building or unit, types them in and then acts for them —
books an appointment (``bot.services.appointments``) or files a case
(``bot.services.org``).  They are ``User`` rows with no Telegram id.

Who reaches whom is :func:`bot.services.access.homes_reached`: a grid worker
or grid head their grids' people, a building head their building's, a unit
head their unit's.  A head's new neighbour lives in a building (and unit) the
head heads, which the head names (:func:`head_homes`), so a head reaches every
person they add.  Plain data in and out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import (
    field_grid_ids,
    headed,
    heads_home,
    homes_reached,
    split_unit_scope,
    unit_scope_id,
)
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from models import Building, User, i18n_name

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


@dataclass(frozen=True, slots=True)
class Home:
    """A home a head may name for a neighbour: a unit of a building they head, or (a building
    head) the building with the unit not known.  ``code``: ``building id * 1000 + unit`` (0: not known)."""

    code: int
    building: str
    unit: int | None


async def head_homes(session: AsyncSession, head: User, locale: str) -> list[Home]:
    """Where a neighbour typed in by ``head`` may live: every unit of the buildings they head
    (and the building with the unit not known), or the units they head.  A grid worker
    names no home (their people belong to the grid): empty."""
    if field_grid_ids(head):
        return []
    out: list[Home] = []
    for building_id, units in sorted(headed(head).items()):
        building = await session.get(Building, building_id)
        if building is None:
            continue
        name = i18n_name(building.names, locale, building.code)
        count = max(building.units or 1, 1)
        for unit in sorted(units) if units is not None else range(1, count + 1):
            out.append(Home(unit_scope_id(building_id, unit), name, unit))
        if units is None and count > 1:
            out.append(Home(unit_scope_id(building_id, 0), name, None))
    return out


async def _head_home(session: AsyncSession, head: User, code: int | None) -> tuple[Building, int | None]:
    """The building and unit a head named (``code`` from :func:`head_homes`; None: their only home)."""
    homes = await head_homes(session, head, "zh-Hans")
    if code is None:
        if len(homes) != 1:
            raise InvalidInput("offline_home")  # several: the head says which
        code = homes[0].code
    if code not in {h.code for h in homes}:
        raise NotFound("appt_resident")  # a forged home: refused as a stranger would be
    building_id, unit = split_unit_scope(code)
    building = await session.get(Building, building_id)
    if building is None:
        raise NotFound("appt_resident")
    return building, unit or None


async def add_offline_resident(session: AsyncSession, actor: User, name: str, phone: str,
                               now: datetime, *, home: int | None = None) -> tuple[User, bool]:
    """A resident without Telegram, typed in by a worker of their grid or the head of their
    building (unit): ``home``, one of :func:`head_homes`, says where (a head of several homes
    must say it).  The same phone among the people ``actor`` reaches is the same person
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
    else:  # a head: the neighbour lives in the building (and unit) the head named
        building, person.unit = await _head_home(session, actor, home)
        person.building_id, person.grid_id = building.id, building.grid_id
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
