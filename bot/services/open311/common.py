"""What every part of the Open311 domain shares: which cases are public at all
(the privacy filter), the status mappings, the query's dates and the locale.

The privacy filter is one function, :func:`public_conditions`, used by every
query that reads cases for the API (lists, one request, tokens, updates), so
a case is listed everywhere or nowhere.  docs/open311.md says what it means.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES
from bot.services.errors import InvalidInput, NotFound
from models import (
    Case,
    CaseEventType,
    CaseKind,
    CaseStatus,
    CloseReason,
    Community,
    District,
    ServiceItem,
    ServiceKind,
)

MAX_SPAN = timedelta(days=90)  # the spec: start_date and end_date at most 90 days apart
MAX_RESULTS = 1000  # the spec: at most 1,000 requests in one answer
MAX_PAGE = 10_000
MAX_IDS = 200  # service_request_id=... names at most this many requests

# The spec's two statuses; with extensions=true the detailed state (FixMyStreet's names).
DETAILED_STATUS = {
    CaseStatus.new: "OPEN",
    CaseStatus.accepted: "ACTION_SCHEDULED",
    CaseStatus.in_progress: "IN_PROGRESS",
    CaseStatus.resolved: "FIXED",
    CaseStatus.reopened: "REOPEN",
    CaseStatus.closed: "CLOSED",
}

# The events a public update is made of, with the detailed state each leaves the request in.
UPDATE_STATUS = {
    CaseEventType.submitted: "OPEN",
    CaseEventType.accepted: "ACTION_SCHEDULED",
    CaseEventType.started: "IN_PROGRESS",
    CaseEventType.dept_called: "INTERNAL_REFERRAL",
    CaseEventType.resolved: "FIXED",
    CaseEventType.reopened: "REOPEN",
    CaseEventType.confirmed: "CLOSED",
    CaseEventType.auto_closed: "CLOSED",
    CaseEventType.withdrawn: "CLOSED",
}


def spec_status(status: CaseStatus) -> str:
    return "closed" if status == CaseStatus.closed else "open"


def detailed_status(status: CaseStatus, close_reason: CloseReason | None = None) -> str:
    if status == CaseStatus.closed and close_reason == CloseReason.withdrawn:
        return "NO_FURTHER_ACTION"
    return DETAILED_STATUS[status]


async def public_service_ids(session: AsyncSession) -> dict[int, ServiceItem]:
    """The catalogue items whose cases may be published: problem reports the
    district has not marked private (active or not: old cases keep their item)."""
    rows = await session.scalars(select(ServiceItem).where(ServiceItem.kind == ServiceKind.report,
                                                           ServiceItem.private.is_(False)))
    return {s.id: s for s in rows}


def public_conditions(service_ids: Sequence[int]) -> list[ColumnElement[bool]]:
    """The privacy filter: only sent problem reports of a public catalogue item
    that their resident did not mark private.  Proxy errands (personal
    matters), free requests typed at the menu (no category) and problems
    found on patrol (no catalogue item) are never listed."""
    return [Case.kind == CaseKind.report, Case.service_id.in_(list(service_ids)), Case.private.is_(False),
            Case.status != CaseStatus.draft, Case.number.is_not(None), Case.submitted_at.is_not(None)]


# ------------------------------------------------------------------ input

def one(params: Mapping[str, str], name: str, limit: int = 200) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    value = value.strip()
    if len(value) > limit:
        raise InvalidInput("too_long", field=name, limit=limit)
    return value or None


def parse_time(value: str | None, name: str, tz: ZoneInfo) -> datetime | None:
    """A W3C / ISO 8601 date-time (``2026-12-05T09:30:00+08:00``, ``...Z``, or a
    plain date); without a zone it is local time (``DISPLAY_TZ``)."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+") if "T" in value else value)
    except ValueError:
        raise InvalidInput("bad_date", field=name) from None
    if not 2000 <= moment.year <= 2100:
        raise InvalidInput("bad_date", field=name)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment


def window(start: datetime | None, end: datetime | None, now: datetime, names: tuple[str, str],
           *, default: bool) -> tuple[datetime | None, datetime | None]:
    """A date window at most 90 days long.  Only one end given: the other is
    90 days away from it; none given: the last 90 days when ``default``."""
    if start is None and end is None:
        return (now - MAX_SPAN, now) if default else (None, None)
    if start is None:
        assert end is not None
        start = end - MAX_SPAN
    if end is None:
        end = start + MAX_SPAN
    if end < start:
        raise InvalidInput("bad_window", field=names[1], other=names[0])
    if end - start > MAX_SPAN:
        raise InvalidInput("span_too_long", field=names[1], other=names[0], days=MAX_SPAN.days)
    return start, end


def positive(params: Mapping[str, str], name: str, default: int, top: int) -> int:
    value = one(params, name, 10)
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= top:
        raise InvalidInput("bad_number", field=name, top=top)
    return int(value)


def csv(value: str | None) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


@dataclass(frozen=True, slots=True)
class Jurisdiction:
    """The district a call is about (``jurisdiction_id``), as its communities."""

    community_ids: list[int] | None  # None: every community (no jurisdiction_id given)

    def cases(self) -> list[ColumnElement[bool]]:
        """The conditions keeping a query of cases inside the district."""
        return [] if self.community_ids is None else [Case.community_id.in_(self.community_ids)]


EVERYWHERE = Jurisdiction(None)


async def jurisdiction(session: AsyncSession, code: str | None) -> Jurisdiction:
    """``jurisdiction_id`` is a district's code; unknown: ``NotFound``.  Every
    endpoint but ``discovery`` checks it; lists, one request, tokens, filing
    and notes keep to the district's cases and buildings (the catalogue is
    the same for every district)."""
    code = (code or "").strip()[:64] or None
    if code is None:
        return EVERYWHERE
    district = await session.scalar(select(District).where(District.code == code))
    if district is None:
        raise NotFound("jurisdiction")
    ids = list(await session.scalars(select(Community.id).where(Community.district_id == district.id)))
    return Jurisdiction(ids)


# ------------------------------------------------------------------ locale

_LANG = re.compile(r"^\s*([A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*|\*)\s*(?:;\s*q\s*=\s*([0-9.]+))?\s*$")


def locale_of(value: str | None) -> str | None:
    """One of our locales for a language tag (``zh-TW`` → zh-Hant, ``zh-CN`` → zh-Hans, ``en-GB`` → en)."""
    if not value:
        return None
    tag = value.strip().replace("_", "-").lower()
    if tag in ("zh-hant", "zh-tw", "zh-hk", "zh-mo") or tag.startswith("zh-hant-"):
        return "zh-Hant"
    if tag == "zh" or tag.startswith("zh-"):
        return "zh-Hans"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


def negotiate_locale(param: str | None, accept_language: str | None, default: str) -> str:
    """``locale=`` first, then the best of ``Accept-Language`` (by q), else ``default``."""
    chosen = locale_of(param)
    if chosen is not None:
        return chosen
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        m = _LANG.match(part)
        if not m:
            continue
        try:
            q = float(m.group(2)) if m.group(2) else 1.0
        except ValueError:
            continue
        found = locale_of(m.group(1))
        if found is not None and q > 0:
            ranked.append((-q, index, found))
    ranked.sort()
    return ranked[0][2] if ranked else (default if default in SUPPORTED_LOCALES else "zh-Hans")


def local_iso(moment: datetime | None, tz: ZoneInfo) -> str | None:
    """W3C date-time with the zone: ``2026-12-05T09:30:00+08:00``."""
    return moment.astimezone(tz).isoformat(timespec="seconds") if moment is not None else None
