"""Service requests as the public sees them: the list with the spec's filters
and the common extensions (paging, windows on the last change,
``extensions=true``), one request, and a token's request.

A list is two to four queries whatever its length: the cases of the page
(joined to their building and grid, read by the ``(submitted_at, id)``
index), the departments they were escalated to, and the catalogue and the
departments' names (small).  ``benchmarks/open311.py`` measures it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import cases
from bot.services.errors import InvalidInput, NotFound
from bot.services.l10n import translator
from bot.services.open311.common import (
    EVERYWHERE,
    MAX_IDS,
    MAX_PAGE,
    MAX_RESULTS,
    Jurisdiction,
    csv,
    detailed_status,
    one,
    parse_time,
    positive,
    public_conditions,
    public_service_ids,
    spec_status,
    window,
)
from bot.services.open311.filing import PHOTO
from bot.services.open311.masking import masked
from models import (
    OPEN_STATUSES,
    Building,
    Case,
    CaseEscalation,
    CaseEventType,
    CaseStatus,
    CloseReason,
    Department,
    Grid,
    Open311Request,
    i18n_name,
)


@dataclass(frozen=True, slots=True)
class RequestQuery:
    ids: list[str]  # service_request_id=...: these requests only (the other filters are ignored)
    service_codes: list[str]
    statuses: list[str]  # open, closed
    start: datetime | None  # requested_datetime window
    end: datetime | None
    updated_after: datetime | None
    updated_before: datetime | None
    page: int
    page_size: int


def parse_query(params: Mapping[str, str], now: datetime, settings: Settings) -> RequestQuery:
    """The query string of ``GET requests`` checked (``InvalidInput`` names the field)."""
    tz = settings.tz
    ids = csv(one(params, "service_request_id", 40 * MAX_IDS))
    if len(ids) > MAX_IDS:
        raise InvalidInput("too_many_ids", field="service_request_id", limit=MAX_IDS)
    statuses = [s.lower() for s in csv(one(params, "status", 100))]
    for status in statuses:
        if status not in ("open", "closed"):
            raise InvalidInput("bad_status", field="status")
    updated_after = parse_time(one(params, "updated_after", 64), "updated_after", tz)
    updated_before = parse_time(one(params, "updated_before", 64), "updated_before", tz)
    start = parse_time(one(params, "start_date", 64), "start_date", tz)
    end = parse_time(one(params, "end_date", 64), "end_date", tz)
    by_update = updated_after is not None or updated_before is not None
    start, end = window(start, end, now, ("start_date", "end_date"), default=not by_update)
    if by_update:
        updated_after, updated_before = window(updated_after, updated_before, now,
                                               ("updated_after", "updated_before"), default=False)
    return RequestQuery(
        ids=ids, service_codes=csv(one(params, "service_code", 2000)), statuses=statuses, start=start, end=end,
        updated_after=updated_after, updated_before=updated_before,
        page=positive(params, "page", 1, MAX_PAGE), page_size=positive(params, "page_size", MAX_RESULTS, MAX_RESULTS))


@dataclass(frozen=True, slots=True)
class PublicRequest:
    """Every field GeoReport v2 names for a request (None where unknown), plus
    ``detailed_status`` for ``extensions=true``."""

    service_request_id: str
    status: str
    status_notes: str | None
    service_name: str | None
    service_code: str | None
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime | None
    updated_datetime: datetime | None
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None
    detailed_status: str


# Plain columns only (no JSON names: a list's grids and buildings are named from their own small queries).
_COLUMNS = (Case.id, Case.number, Case.status, Case.close_reason, Case.service_id, Case.description,
            Case.submitted_at, Case.updated_at, Case.resolve_due_at, Case.grid_id, Case.building_id,
            Building.code, Building.address, Building.latitude, Building.longitude,
            Open311Request.id, Open311Request.media_url)


def _select() -> Select[Any]:
    return (select(*_COLUMNS).select_from(Case)
            .outerjoin(Building, Building.id == Case.building_id)
            .outerjoin(Open311Request, Open311Request.case_id == Case.id))


async def _rows(session: AsyncSession, stmt: Select[Any]) -> list[Any]:
    """The rows through Core (the session's connection and transaction): plain
    columns need none of the ORM's loading machinery."""
    return list((await (await session.connection()).execute(stmt)).all())


async def list_requests(session: AsyncSession, settings: Settings, query: RequestQuery, locale: str,
                        area: Jurisdiction = EVERYWHERE) -> list[PublicRequest]:
    services = await public_service_ids(session)
    stmt = _select().where(*public_conditions(list(services)), *area.cases())
    if query.ids:
        stmt = stmt.where(Case.number.in_(query.ids))
    else:
        if query.service_codes:
            wanted = {s.code: s.id for s in services.values()}
            unknown = [c for c in query.service_codes if c not in wanted]
            if unknown:
                raise NotFound("service", service_code=unknown[0])
            stmt = stmt.where(Case.service_id.in_([wanted[c] for c in query.service_codes]))
        if query.statuses and set(query.statuses) != {"open", "closed"}:
            stmt = stmt.where(Case.status == CaseStatus.closed if query.statuses[0] == "closed"
                              else Case.status.in_(OPEN_STATUSES))
        if query.start is not None:
            stmt = stmt.where(Case.submitted_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(Case.submitted_at <= query.end)
        if query.updated_after is not None:
            stmt = stmt.where(Case.updated_at >= query.updated_after)
        if query.updated_before is not None:
            stmt = stmt.where(Case.updated_at <= query.updated_before)
    stmt = (stmt.order_by(Case.submitted_at.desc(), Case.id.desc())
            .limit(query.page_size).offset((query.page - 1) * query.page_size))
    rows = await _rows(session, stmt)
    return await _publish(session, settings, rows, services, locale)


async def one_request(session: AsyncSession, settings: Settings, number: str, locale: str,
                      area: Jurisdiction = EVERYWHERE) -> PublicRequest:
    """``NotFound`` for a number that does not exist and for a case that is not public alike."""
    services = await public_service_ids(session)
    rows = await _rows(session, _select().where(*public_conditions(list(services)), *area.cases(),
                                                Case.number == number))
    if not rows:
        raise NotFound("request")
    return (await _publish(session, settings, rows, services, locale))[0]


async def token_request(session: AsyncSession, token: str, area: Jurisdiction = EVERYWHERE) -> tuple[str, str]:
    """(service_request_id, token) of a request filed through the API."""
    services = await public_service_ids(session)
    number = await session.scalar(
        select(Case.number).join(Open311Request, Open311Request.case_id == Case.id)
        .where(Open311Request.token == token, *public_conditions(list(services)), *area.cases()))
    if number is None:
        raise NotFound("token")
    return number, token


async def _agencies(session: AsyncSession, case_ids: Sequence[int], locale: str) -> dict[int, str]:
    """The department each case was last escalated to (吹哨报到), by name."""
    if not case_ids:
        return {}
    rows = (await session.execute(
        select(CaseEscalation.case_id, CaseEscalation.department_id).where(CaseEscalation.case_id.in_(case_ids))
        .order_by(CaseEscalation.id))).all()
    if not rows:
        return {}
    last = {case_id: dept_id for case_id, dept_id in rows}
    names = {d.id: i18n_name(d.names, locale, d.code) for d in await session.scalars(
        select(Department).where(Department.id.in_(set(last.values()))))}
    return {case_id: names.get(dept_id, "") for case_id, dept_id in last.items()}


async def _names(session: AsyncSession, model: Any, ids: set[int], locale: str) -> dict[int, str]:
    if not ids:
        return {}
    rows = await _rows(session, select(model.id, model.names, model.code).where(model.id.in_(ids)))
    return {id_: i18n_name(names, locale, code) for id_, names, code in rows}


async def _publish(session: AsyncSession, settings: Settings, rows: Sequence[Any], services: dict[int, Any],
                   locale: str) -> list[PublicRequest]:
    _ = translator(locale)
    service_names: dict[int, tuple[str, str]] = {
        sid: (i18n_name(s.names, locale, s.code), s.code) for sid, s in services.items()}
    agencies = await _agencies(session, [r[0] for r in rows], locale)
    grids = await _names(session, Grid, {r.grid_id for r in rows}, locale)
    unaddressed = await _names(session, Building, {r.building_id for r in rows if r.building_id and not r.address},
                               locale)
    labels: dict[tuple[CaseStatus, CloseReason | None], str] = {}
    out: list[PublicRequest] = []
    for (case_id, number, status, close_reason, service_id, description, submitted_at, updated_at, due,
         grid_id, building_id, building_code, building_address, lat, long, via_api, media_url) in rows:
        key = (status, close_reason)
        if key not in labels:  # "done, waiting for your answer" speaks to the resident: the step instead
            labels[key] = (cases.event_label(_, CaseEventType.resolved) if status == CaseStatus.resolved
                           else cases.status_label(_, status, close_reason))
        service_name, service_code = service_names.get(service_id, (None, None))
        out.append(PublicRequest(
            service_request_id=number, status=spec_status(status), status_notes=labels[key],
            service_name=service_name, service_code=service_code,
            # A chat-filed case's words are the resident's own, written to their grid, not to the public;
            # a request filed through the API was written for a public system.
            description=_public_text(description, media_url) if via_api is not None else None,
            agency_responsible=agencies.get(case_id) or grids.get(grid_id),
            service_notice=None, requested_datetime=submitted_at, updated_datetime=updated_at,
            expected_datetime=due, address=building_address or unaddressed.get(building_id),
            address_id=building_code, zipcode=None, lat=lat, long=long,
            media_url=media_url if via_api is not None else None,
            detailed_status=detailed_status(status, close_reason)))
    return out


def _public_text(description: str | None, media_url: str | None) -> str | None:
    """A filed request's text as published: without the photo line added for
    the worker (the link is published as ``media_url``), phones, email
    addresses and flat or room numbers masked."""
    if description and media_url:
        line = PHOTO + media_url
        if description == line:
            return None
        description = description.removesuffix("\n" + line)
    return masked(description)
