"""Who may see which report, and what a scope covers.

District administrators see their district and everything in it; community
staff (secretaries) their communities and their grids; grid heads their grids
(:func:`bot.services.access.oversees`).  Checked on every call, buttons
included: a scope one may not see answers exactly like a scope that does not
exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Select

from bot.services import access, cases
from bot.services.errors import NotAllowed, NotFound
from bot.services.reports.common import Scope, ScopeKind
from models import Appointment, Community, District, Grid, Station, User, i18n_name


def _scope(kind: ScopeKind, row: District | Community | Grid, locale: str) -> Scope:
    return Scope(kind, row.id, row.code, i18n_name(row.names, locale, row.code))


async def scope_options(session: AsyncSession, user: User, locale: str) -> list[Scope]:
    """The scopes ``user`` may report on, widest first: their districts and the
    communities in them (administrators), their communities and their grids
    (staff), their grids (grid heads)."""
    if not access.may_oversee(user):
        raise NotAllowed()
    districts = access.admin_district_ids(user)
    communities = access.staff_community_ids(user)
    grids = access.head_grid_ids(user)
    out: list[Scope] = []
    if districts:
        out += [_scope(ScopeKind.district, d, locale) for d in await session.scalars(
            select(District).where(District.id.in_(districts)).order_by(District.code))]
        out += [_scope(ScopeKind.community, c, locale) for c in await session.scalars(
            select(Community).where(Community.district_id.in_(districts), Community.active)
            .order_by(Community.code))]
    if communities:
        out += [_scope(ScopeKind.community, c, locale) for c in await session.scalars(
            select(Community).where(Community.id.in_(communities)).order_by(Community.code))]
        out += [_scope(ScopeKind.grid, g, locale) for g in await session.scalars(
            select(Grid).where(Grid.community_id.in_(communities), Grid.active).order_by(Grid.code))]
    if grids:
        out += [_scope(ScopeKind.grid, g, locale) for g in await session.scalars(
            select(Grid).where(Grid.id.in_(grids)).order_by(Grid.code))]
    seen: set[tuple[ScopeKind, int]] = set()
    unique = []
    for s in out:
        if (s.kind, s.id) not in seen:
            seen.add((s.kind, s.id))
            unique.append(s)
    return unique


async def resolve_scope(session: AsyncSession, user: User, kind: str, scope_id: int, locale: str) -> Scope:
    """The scope named by (possibly forged) input, if ``user`` may report on it."""
    if not access.may_oversee(user):
        raise NotAllowed()
    row: District | Community | Grid | None = None
    chain: access.ScopeChain | None = None
    if kind == ScopeKind.district:
        row = await session.get(District, scope_id)
        chain = access.ScopeChain(row.id) if row is not None else None
    elif kind == ScopeKind.community:
        row = await session.get(Community, scope_id)
        chain = access.ScopeChain(row.district_id, row.id) if row is not None else None
    elif kind == ScopeKind.grid:
        row = await session.get(Grid, scope_id)
        chain = await access.chain_of_grid(session, row.id) if row is not None else None
    if row is None or chain is None or not access.oversees(user, chain):
        raise NotFound("report_scope")  # the same answer whether it exists or not
    return _scope(ScopeKind(kind), row, locale)


def grid_ids_of(scope: Scope) -> Select[Any]:
    """The ids of the grids in a scope, as a subquery."""
    if scope.kind == ScopeKind.grid:
        return select(Grid.id).where(Grid.id == scope.id)
    if scope.kind == ScopeKind.community:
        return select(Grid.id).where(Grid.community_id == scope.id)
    return select(Grid.id).join(Community, Community.id == Grid.community_id).where(
        Community.district_id == scope.id)


def case_conditions(scope: Scope) -> list[ColumnElement[bool]]:
    return cases.scope_conditions(**{f"{scope.kind.value}_id": scope.id})


def appointment_conditions(scope: Scope) -> list[ColumnElement[bool]]:
    """Appointments count for the community of their station; for a grid, the
    residents who live in it."""
    if scope.kind == ScopeKind.grid:
        return [Appointment.resident_id.in_(select(User.id).where(User.grid_id == scope.id))]
    if scope.kind == ScopeKind.community:
        return [Appointment.station_id.in_(select(Station.id).where(Station.community_id == scope.id))]
    return [Appointment.station_id.in_(select(Station.id).join(Community, Community.id == Station.community_id)
                                       .where(Community.district_id == scope.id))]
