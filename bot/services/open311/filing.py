"""``POST requests``: a request filed by a client system becomes a case.

The place is routed to a building (and so to its grid): the nearest building
within :data:`MAX_ROUTE_METERS` of ``lat``/``long``, or the building whose
code is ``address_id``, or whose address or name ``address_string`` matches.
The case is filed through :func:`bot.services.cases.file_for_system`, like a
resident's on "Send": its grid's workers are told and the loop runs.  The
reporter's email, phone and name are kept beside it (``open311_requests``)
for the workers, never published.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import cases
from bot.services.errors import InvalidInput
from bot.services.open311.catalogue import LOCATION_DETAIL, MAX_LOCATION_DETAIL, offered
from bot.services.open311.common import EVERYWHERE, Jurisdiction, one
from bot.services.open311.keys import Client
from models import Building, Grid, Open311Request, User

MAX_ROUTE_METERS = 500.0
PHOTO = "📷 "  # the line of a case's text that gives the media_url of a request filed through the API
MAX_MEDIA_URL = 2000
MAX_DESCRIPTION = 4000  # the spec's; the case's own limit (3,000 over all its text) is checked on filing
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{1,63}$")
PHONE_RE = re.compile(r"^\+?[0-9 ()-]{3,31}$")
ATTRIBUTE_RE = re.compile(r"^attribute\[([^\]]{1,64})\](\[\])?$")


@dataclass(frozen=True, slots=True)
class NewRequest:
    service_code: str
    lat: float | None
    long: float | None
    address_string: str | None
    address_id: str | None
    description: str | None
    media_url: str | None
    attributes: dict[str, str]
    email: str | None
    phone: str | None
    first_name: str | None
    last_name: str | None
    device_id: str | None
    account_id: str | None


@dataclass(frozen=True, slots=True)
class Filed:
    service_request_id: str
    token: str
    account_id: str | None


def _coordinate(params: Mapping[str, str], name: str, top: float) -> float | None:
    value = one(params, name, 32)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise InvalidInput("bad_number", field=name, top=top) from None
    if not (math.isfinite(number) and -top <= number <= top):
        raise InvalidInput("bad_coordinate", field=name)
    return number


def parse_new_request(params: Mapping[str, str]) -> NewRequest:
    """The form of ``POST requests`` checked (``InvalidInput`` names the field)."""
    code = one(params, "service_code", 32)
    if code is None:
        raise InvalidInput("missing", field="service_code")
    lat, long = _coordinate(params, "lat", 90), _coordinate(params, "long", 180)
    if (lat is None) != (long is None):
        raise InvalidInput("missing", field="long" if long is None else "lat")
    address_string, address_id = one(params, "address_string", 300), one(params, "address_id", 32)
    if lat is None and address_string is None and address_id is None:
        raise InvalidInput("no_location")
    media_url = one(params, "media_url", MAX_MEDIA_URL)
    if media_url is not None and not re.match(r"^https?://[^\s]+$", media_url):
        raise InvalidInput("bad_url", field="media_url")
    email, phone = one(params, "email", 254), one(params, "phone", 32)
    if email is not None and not EMAIL_RE.match(email):
        raise InvalidInput("bad_email", field="email")
    if phone is not None and not PHONE_RE.match(phone):
        raise InvalidInput("bad_phone", field="phone")
    attributes: dict[str, str] = {}
    for key, value in params.items():
        m = ATTRIBUTE_RE.match(key)
        if key.startswith("attribute") and m is None:
            raise InvalidInput("bad_attribute", field=key[:80])
        if m is None:
            continue
        if m.group(1) != LOCATION_DETAIL:
            raise InvalidInput("unknown_attribute", field=key[:80])
        text = " ".join(value.split())
        if len(text) > MAX_LOCATION_DETAIL:
            raise InvalidInput("too_long", field=key, limit=MAX_LOCATION_DETAIL)
        if text:
            attributes[m.group(1)] = text
    description = one(params, "description", MAX_DESCRIPTION)
    if description is None and media_url is None:
        raise InvalidInput("missing", field="description")
    return NewRequest(
        service_code=code, lat=lat, long=long, address_string=address_string, address_id=address_id,
        description=description, media_url=media_url, attributes=attributes, email=email, phone=phone,
        first_name=one(params, "first_name", 128), last_name=one(params, "last_name", 128),
        device_id=one(params, "device_id", 128), account_id=one(params, "account_id", 128))


def _squash(text: str) -> str:
    return "".join(text.split()).lower()


async def route(session: AsyncSession, req: NewRequest, area: Jurisdiction = EVERYWHERE) -> Building:
    """The building of the request's place (in the district ``area`` names);
    ``InvalidInput('not_routed')`` when none is found."""
    stmt = select(Building).join(Grid, Grid.id == Building.grid_id).where(Building.active, Grid.active)
    if area.community_ids is not None:
        stmt = stmt.where(Grid.community_id.in_(area.community_ids))
    rows = list(await session.scalars(stmt))
    if req.lat is not None and req.long is not None:
        best, best_m = None, MAX_ROUTE_METERS
        scale = math.cos(math.radians(req.lat))
        for b in rows:
            if b.latitude is None or b.longitude is None:
                continue
            meters = 111_320.0 * math.hypot(b.latitude - req.lat, (b.longitude - req.long) * scale)
            if meters <= best_m:
                best, best_m = b, meters
        if best is not None:
            return best
        raise InvalidInput("not_routed", field="lat")
    if req.address_id is not None:
        for b in rows:
            if b.code == req.address_id:
                return b
        raise InvalidInput("not_routed", field="address_id")
    assert req.address_string is not None
    wanted = _squash(req.address_string)
    exact = [b for b in rows if wanted in {_squash(b.address or ""), *(_squash(n) for n in (b.names or {}).values())}]
    if exact:
        return exact[0]
    # The building's address inside a longer one ("...1号楼 3单元"): the longest such address wins.
    inside = sorted((b for b in rows if b.address and _squash(b.address) in wanted),
                    key=lambda b: -len(_squash(b.address or "")))
    if inside:
        return inside[0]
    raise InvalidInput("not_routed", field="address_string")


async def file_request(session: AsyncSession, settings: Settings, client: Client, req: NewRequest,
                       now: datetime, area: Jurisdiction = EVERYWHERE) -> Filed:
    item = await offered(session, req.service_code)
    building = await route(session, req, area)
    filer = await session.get(User, client.user_id)
    assert filer is not None
    text = req.description or ""
    if LOCATION_DETAIL in req.attributes:
        text = (text + "\n" if text else "") + "📍 " + req.attributes[LOCATION_DETAIL]
    if req.media_url:  # the photo's link, for the worker (published apart, as media_url)
        text = (text + "\n" if text else "") + PHOTO + req.media_url
    token = secrets.token_urlsafe(18)
    case = await cases.file_for_system(
        session, settings, filer, service_id=item.id, building_id=building.id, description=text, now=now,
        source={"source": "open311", "client": client.name, "token": token})
    session.add(Open311Request(case_id=case.id, client_id=client.id, token=token, email=req.email,
                               phone=req.phone, first_name=req.first_name, last_name=req.last_name,
                               device_id=req.device_id, account_id=req.account_id, media_url=req.media_url,
                               created_at=now))
    await session.flush()
    assert case.number is not None
    return Filed(case.number, token, req.account_id)
