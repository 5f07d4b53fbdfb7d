"""The places a role grant is scoped to, by code and by name: a grid, a
community, a department, a district, a building, or a unit of a building.

A unit has no row of its own (``models.users.ScopeType.unit``): its code is
the building's code, a slash and the unit number (``DC-LQ-01-01/2``), its id
``building id * UNIT_FACTOR + unit``.  Invites, ``import-org``, the role lists
and the access log all read scopes through here, so a unit reads the same
everywhere.  Plain data in and out.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.access import split_unit_scope, unit_scope_id
from bot.services.errors import NotFound
from models import (
    UNIT_FACTOR,
    Building,
    Community,
    Department,
    District,
    Grid,
    ScopeType,
    i18n_name,
)

SCOPE_MODELS: dict[ScopeType, Any] = {
    ScopeType.grid: Grid,
    ScopeType.community: Community,
    ScopeType.department: Department,
    ScopeType.district: District,
    ScopeType.building: Building,
    ScopeType.unit: Building,
}
UNIT_CODE_RE = re.compile(r"^(?P<building>[A-Z0-9][A-Z0-9_-]{0,31})\s*/\s*(?P<unit>\d{1,3})$")


def parse_unit_code(code: str) -> tuple[str, int] | None:
    """``DC-LQ-01-01/2`` → (``DC-LQ-01-01``, 2); None when it is not a unit's code."""
    match = UNIT_CODE_RE.match((code or "").strip().upper())
    if match is None or not 0 < int(match.group("unit")) < UNIT_FACTOR:
        return None
    return match.group("building"), int(match.group("unit"))


def unit_code(building_code: str, unit: int) -> str:
    return f"{building_code}/{unit}"


async def resolve(session: AsyncSession, scope_type: ScopeType, code: str) -> int:
    """The scope id of the place ``code`` names; ``NotFound("scope")`` when there is
    none (a unit beyond the building's number of units included)."""
    code = (code or "").strip().upper()
    if scope_type == ScopeType.unit:
        parsed = parse_unit_code(code)
        if parsed is None:
            raise NotFound("scope", scope_type=scope_type.value, scope_code=code)
        row = (await session.execute(select(Building.id, Building.units).where(Building.code == parsed[0]))).first()
        if row is None or parsed[1] > (row.units or 1):
            raise NotFound("scope", scope_type=scope_type.value, scope_code=code)
        return unit_scope_id(row.id, parsed[1])
    model = SCOPE_MODELS[scope_type]
    scope_id = await session.scalar(select(model.id).where(model.code == code))
    if scope_id is None:
        raise NotFound("scope", scope_type=scope_type.value, scope_code=code)
    return int(scope_id)


async def row_of(session: AsyncSession, scope_type: ScopeType, scope_id: int) -> Any:
    """The place's row (a unit's building), or None."""
    if scope_type == ScopeType.unit:
        return await session.get(Building, split_unit_scope(scope_id)[0])
    return await session.get(SCOPE_MODELS[scope_type], scope_id)


async def code_of(session: AsyncSession, scope_type: ScopeType, scope_id: int) -> str:
    row = await row_of(session, scope_type, scope_id)
    if row is None:
        return "?"
    return unit_code(row.code, split_unit_scope(scope_id)[1]) if scope_type == ScopeType.unit else row.code


def unit_name(building_name: str, unit: int) -> str:
    """A unit as people read it: the building's name and the unit number (单元 reads the same in all three)."""
    return f"{building_name} · {unit}"


async def name_of(session: AsyncSession, scope_type: ScopeType, scope_id: int, locale: str) -> str:
    row = await row_of(session, scope_type, scope_id)
    if row is None:
        return "?"
    name = i18n_name(row.names, locale, row.code)
    return unit_name(name, split_unit_scope(scope_id)[1]) if scope_type == ScopeType.unit else name
