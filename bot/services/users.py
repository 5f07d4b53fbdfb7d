"""Users: lookup, registration as a resident, language and phone.

Nothing here knows Telegram: ids are plain integers, results plain data.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from bot.config import SUPPORTED_LOCALES
from bot.services import homes, place_search
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from models import Building, Community, FSMRecord, Grid, Role, RoleGrant, User, i18n_name, utcnow
from models.direct import DirectStatement, attribute_names, column_defaults, persistent

MAX_QUERY_LEN = 40
_PHONE_RE = re.compile(r"^\+?[0-9]{5,20}$")


@dataclass(frozen=True, slots=True)
class Option:
    """One choice in a list shown to the user (community, grid, building)."""

    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class Home:
    community: str
    grid: str
    building: str


# The user, their roles and (when asked) one conversation state in one
# statement, and a new user's row: these run for nearly every update, so they
# go through models.direct (on SQLite, straight to sqlite3) and the rows are
# made into the session's ORM objects by hand.
_users, _grants, _fsm = User.__table__, RoleGrant.__table__, FSMRecord.__table__
_FSM_KEY = _fsm.c.key == bindparam("state_key")
_USER_ROWS = DirectStatement(
    select(*_users.c, select(_fsm.c.state).where(_FSM_KEY).scalar_subquery(),
           select(_fsm.c.data).where(_FSM_KEY).scalar_subquery(), *_grants.c)
    .select_from(_users.outerjoin(_grants, _grants.c.user_id == _users.c.id))
    .where(_users.c.telegram_id == bindparam("telegram_id"))
)
_NEW_USER = DirectStatement(
    insert(_users).values({c.key: bindparam(c.key) for c in _users.c if c.key != "id"}).returning(_users.c.id)
)
_USER_ATTRS = attribute_names(User, _users.c)
_GRANT_ATTRS = attribute_names(RoleGrant, _grants.c)
_N_USER = len(_USER_ATTRS)
_USER_ID, _GRANT_ID = _USER_ATTRS.index("id"), _GRANT_ATTRS.index("id")

NO_STATE_READ = object()
"""Returned as the conversation when no ``state_key`` was given."""


@dataclass(frozen=True, slots=True)
class StoredConversation:
    """A conversation's row as the user lookup read it: its state and its data
    (JSON text); ``data`` is None when there is no row at all."""

    state: str | None
    data: str | None


NO_CONVERSATION = StoredConversation(None, None)


async def get_or_create_with_state(
    session: AsyncSession, *, telegram_id: int, first_name: str, last_name: str | None = None,
    username: str | None = None, state_key: str | None = None, locale: str | None = None,
) -> tuple[User, Any]:
    """The user (created, unregistered, if new) and, when ``state_key`` is
    given, the conversation stored under it (:data:`NO_CONVERSATION` if there is none).

    ``locale``: the language a new user's row starts with, one of ours that
    Telegram says they read (None: they choose).  Written with the row, it
    spares a new person's first answer an UPDATE of the row just inserted;
    :func:`created_now` tells the handler the row is new.

    The user is the session's own, as if a query had loaded it (the object
    the session already holds, if it does), so changes to it are saved by
    the session's next commit."""
    first_name = first_name[:128]
    rows = (await _USER_ROWS.run(session, {"telegram_id": telegram_id, "state_key": state_key})).rows
    if rows:
        first = rows[0]
        state = (StoredConversation(first[_N_USER], first[_N_USER + 1]) if state_key is not None
                 else NO_STATE_READ)
        held = session.sync_session.identity_map.get(identity_key(User, first[_USER_ID]))
        if held is not None:  # already loaded in this session: as a query, keep that object
            return _refresh_names(held, first_name, last_name, username), state
        roles = [_grant(session, row[_N_USER + 2:]) for row in rows if row[_N_USER + 2 + _GRANT_ID] is not None]
        user = persistent(User, dict(zip(_USER_ATTRS, first[:_N_USER], strict=True)), {"roles": roles})
        session.add(user)
        return _refresh_names(user, first_name, last_name, username), state
    # Updates of one chat are handled one at a time, so no other task is
    # creating this user; a unique violation from another process fails the
    # update, which is then retried and finds the row.
    # Someone new has not agreed to the privacy notice: of what Telegram tells,
    # only the first name (to greet them) is kept until they do.
    if locale is not None and locale not in SUPPORTED_LOCALES:
        raise InvalidInput("bad_locale")
    values = column_defaults(_users, {"telegram_id": telegram_id, "first_name": first_name,
                                      "last_name": None, "username": None, "locale": locale}, skip=("id",))
    user_id = (await _NEW_USER.run(session, values)).scalar()
    session.info[_CREATED_NOW] = user_id
    row = {**values, "id": user_id}
    user = persistent(User, {attr: row[c.key] for attr, c in zip(_USER_ATTRS, _users.c, strict=True)}, {"roles": []})
    session.add(user)
    # Conversation state is only ever written while handling an update of an
    # existing user (in the transaction that created them, at the earliest),
    # so someone new has none.
    return user, (NO_CONVERSATION if state_key is not None else NO_STATE_READ)


_CREATED_NOW = "gridbot.user_created_now"


def created_now(session: AsyncSession, user: User) -> bool:
    """Whether ``user``'s row was inserted by this session: the update being
    handled is the person's first."""
    return session.info.get(_CREATED_NOW) == user.id


def _grant(session: AsyncSession, row: tuple[Any, ...]) -> RoleGrant:
    held = session.sync_session.identity_map.get(identity_key(RoleGrant, row[_GRANT_ID]))
    return held if held is not None else persistent(RoleGrant, dict(zip(_GRANT_ATTRS, row, strict=True)))


def _refresh_names(user: User, first_name: str, last_name: str | None, username: str | None) -> User:
    if needs_privacy_consent(user):
        last_name = username = None  # not before the privacy notice is agreed to
    if user.first_name != first_name or user.username != username:
        user.first_name, user.last_name, user.username = first_name, last_name, username
    return user


def set_locale(user: User, locale: str) -> None:
    if locale not in SUPPORTED_LOCALES:
        raise InvalidInput("bad_locale")
    user.locale = locale


def needs_privacy_consent(user: User) -> bool:
    """True while a person has not agreed to the privacy notice (docs/privacy.md):
    nothing about them may be stored but their user row.  People registered
    before the notice existed, and people with a role (staff take a role
    through an invite, as part of their work), are not asked."""
    return user.privacy_consent_at is None and user.registered_at is None and not user.roles


def agree_to_privacy(user: User) -> None:
    """Record the person's agreement to the privacy notice (the first time only)."""
    if user.privacy_consent_at is None:
        user.privacy_consent_at = utcnow()


def _require_consent(user: User) -> None:
    if needs_privacy_consent(user):
        raise NotAllowed("privacy_consent_needed")


def set_phone(user: User, phone: str, *, contact_user_id: int | None) -> None:
    """Store the user's own phone, shared through the contact button."""
    _require_consent(user)
    if contact_user_id is None or contact_user_id != user.telegram_id:
        raise NotAllowed("not_own_contact")
    cleaned = re.sub(r"[\s()-]", "", phone)
    if not _PHONE_RE.match(cleaned):
        raise InvalidInput("bad_phone")
    user.phone = cleaned if cleaned.startswith("+") else "+" + cleaned


def mask_phone(phone: str | None) -> str | None:
    """A phone as lists show it (minimum necessary): ``+8613812343001`` →
    ``138****3001``; the first three and the last four digits of the national
    number, fewer for a short number (only its last two)."""
    if not phone:
        return None
    digits = phone[3:] if phone.startswith("+86") else phone.lstrip("+")
    if len(digits) >= 8:
        return digits[:3] + "****" + digits[-4:]
    return "****" + digits[-2:]


def _option(place: Community | Grid | Building, locale: str) -> Option:
    return Option(place.id, place.code, i18n_name(place.names, locale, place.code))


async def _options(session: AsyncSession, query: Select[Any], locale: str) -> list[Option]:
    """The places ``query`` selects (communities, grids, buildings), named in ``locale``."""
    return [_option(place, locale) for place in await session.scalars(query)]


async def _active_children(
    session: AsyncSession, locale: str, parent: type[Community | Grid], parent_id: int, missing: str,
    child: type[Grid | Building], link: Any,
) -> list[Option]:
    """The active children of an active parent (a community's grids, a grid's buildings), as options;
    ``NotFound(missing)`` when the parent is gone or inactive."""
    row = await session.get(parent, parent_id)
    if row is None or not row.active:
        raise NotFound(missing)
    return await _options(session, select(child).where(link == parent_id, child.active).order_by(child.code), locale)


async def communities(session: AsyncSession, locale: str) -> list[Option]:
    return await _options(session, select(Community).where(Community.active).order_by(Community.code), locale)


async def grids_of(session: AsyncSession, community_id: int, locale: str) -> list[Option]:
    return await _active_children(session, locale, Community, community_id, "community", Grid, Grid.community_id)


async def buildings_of(session: AsyncSession, grid_id: int, locale: str) -> list[Option]:
    return await _active_children(session, locale, Grid, grid_id, "grid", Building, Building.grid_id)


def filter_options(options: list[Option], query: str) -> list[Option]:
    """Options whose name or code contains ``query`` (case-insensitive)."""
    q = query.strip().casefold()
    if not q:
        return options
    if len(q) > MAX_QUERY_LEN:
        raise InvalidInput("query_too_long", limit=MAX_QUERY_LEN)
    return [o for o in options if q in o.name.casefold() or q in o.code.casefold()]


SEARCH_LIMIT = 8


async def search_buildings(session: AsyncSession, query: str, locale: str, *,
                           limit: int = SEARCH_LIMIT) -> list[Option]:
    """Active buildings whose name (in any language), address or code fits ``query`` as
    people type it (bot.services.place_search: "铁路2号" and "铁路小区二号楼" find
    铁路小区2号楼), the closest fits first, then in code order: a resident finds her
    home without knowing her grid.  A district has a few thousand buildings at most."""
    if not query.strip():
        raise InvalidInput("empty_text")
    if len(query.strip()) > MAX_QUERY_LEN:
        raise InvalidInput("query_too_long", limit=MAX_QUERY_LEN)
    rows = await session.scalars(select(Building).join(Grid, Building.grid_id == Grid.id)
                                 .where(Building.active, Grid.active).order_by(Building.code))
    scored: list[tuple[int, Option]] = []
    for b in rows:
        fits = [place_search.match(query, str(t)) for t in (*(b.names or {}).values(), b.address or "", b.code)]
        best = max((f for f in fits if f is not None), default=None)
        if best is not None:
            scored.append((best, Option(b.id, b.code, i18n_name(b.names, locale, b.code))))
    scored.sort(key=lambda fit: -fit[0])  # stable: code order within each kind of fit
    return [option for _, option in scored[:limit]]


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0 * 2 * math.asin(math.sqrt(a))


@dataclass(frozen=True, slots=True)
class NearbyBuilding:
    building: Option
    grid: Option
    distance_m: int


async def nearest_buildings(
    session: AsyncSession, latitude: float, longitude: float, locale: str, *, limit: int = 3, max_km: float = 5.0
) -> list[NearbyBuilding]:
    """The closest buildings (with their grids) to a shared location."""
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput("bad_location")
    # A district has a few thousand buildings at most: a bounding box narrows it first.
    dlat = max_km / 111.0
    dlon = max_km / (111.0 * max(math.cos(math.radians(latitude)), 0.01))
    rows = (
        await session.execute(
            select(Building, Grid)
            .join(Grid, Building.grid_id == Grid.id)
            .where(
                Building.active,
                Grid.active,
                Building.latitude.between(latitude - dlat, latitude + dlat),
                Building.longitude.between(longitude - dlon, longitude + dlon),
            )
        )
    ).all()
    scored = sorted(
        (
            (_distance_km(latitude, longitude, b.latitude, b.longitude), b, g)
            for b, g in rows
            if b.latitude is not None and b.longitude is not None
        ),
        key=lambda t: t[0],
    )
    return [
        NearbyBuilding(_option(b, locale), _option(g, locale), int(d * 1000))
        for d, b, g in scored[:limit]
        if d <= max_km
    ]


def _home(community: Community, grid: Grid, building: Building, locale: str) -> Home:
    return Home(
        community=i18n_name(community.names, locale, community.code),
        grid=i18n_name(grid.names, locale, grid.code),
        building=i18n_name(building.names, locale, building.code),
    )


async def register_resident(session: AsyncSession, user: User, building_id: int, locale: str) -> Home:
    """Set the user's home building (and so grid); first time also registers them
    (only after they agreed to the privacy notice)."""
    _require_consent(user)
    building = await session.get(Building, building_id)
    if building is None or not building.active:
        raise NotFound("building")
    grid = await session.get(Grid, building.grid_id)
    assert grid is not None
    community = await session.get(Community, grid.community_id)
    assert community is not None
    homes.moved(user, building.id)  # another building is a new claim
    user.building_id = building.id
    user.grid_id = grid.id
    if user.registered_at is None:
        user.registered_at = utcnow()
    return _home(community, grid, building, locale)


async def home_of(session: AsyncSession, user: User, locale: str) -> Home | None:
    if user.building_id is None:
        return None
    building = await session.get(Building, user.building_id)
    if building is None:
        return None
    grid = await session.get(Grid, building.grid_id)
    community = await session.get(Community, grid.community_id) if grid else None
    if grid is None or community is None:
        return None
    return _home(community, grid, building, locale)


def staff_roles(user: User) -> set[Role]:
    return {grant.role for grant in user.roles}
