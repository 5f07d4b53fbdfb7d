"""Staff broadcasts: who may address whom, the exact recipients, queueing,
pause / resume / cancel, progress, "I have read it" and the follow-up lists.

A service: plain data in, plain data or :class:`DomainError` out; nothing
here knows Telegram.  Every function checks the actor itself, so a forged
button (another scope's id, another broadcast's id) is refused here:

* an administrator addresses their district (any community, grid or building in it);
* community staff address their community (or a grid or building in it);
* a grid head addresses their grid (or a building in it);
* nobody else broadcasts.

Recipients are fixed when the broadcast is confirmed: one outbox row each,
written in the same transaction as the broadcast, due at once or at the
scheduled time.  The text is the composer's (HTML); only the "I have read it"
button is rendered per recipient language.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, and_, cast, func, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import family
from bot.services.access import (
    ScopeChain,
    admin_district_ids,
    chain_of_grid,
    field_team_ids,
    head_grid_ids,
    headed,
    may_oversee,
    oversees,
    staff_community_ids,
)
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.escape import esc
from bot.services.l10n import translator
from bot.services.notify import counted_by_the_planner, wake_sender_after_commit
from bot.services.users import Option, mask_phone
from models import (
    UNIT_FACTOR,
    Broadcast,
    BroadcastAck,
    BroadcastAudience,
    BroadcastScope,
    BroadcastStatus,
    Building,
    Community,
    District,
    Grid,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    Role,
    RoleGrant,
    ScopeType,
    User,
    i18n_name,
)

SIGNATURE_ROOM = 100  # each notice starts with who sends it ("📢 Notice from 新站社区"): Telegram's limits less this
TEXT_LIMIT = 4096 - SIGNATURE_ROOM
CAPTION_LIMIT = 1024 - SIGNATURE_ROOM
MAX_SCHEDULE_AHEAD = timedelta(days=30)
ACK_FOLLOWUP_AFTER = timedelta(hours=24)
INSERT_CHUNK = 5000
OPEN = (OutboxStatus.pending, OutboxStatus.claimed, OutboxStatus.sending)

_CHILD = {
    BroadcastScope.district: BroadcastScope.community,
    BroadcastScope.community: BroadcastScope.grid,
    BroadcastScope.grid: BroadcastScope.building,
}
_MODEL: dict[BroadcastScope, Any] = {
    BroadcastScope.district: District,
    BroadcastScope.community: Community,
    BroadcastScope.grid: Grid,
    BroadcastScope.building: Building,
}


@dataclass(frozen=True, slots=True)
class ScopeRef:
    type: BroadcastScope
    id: int


@dataclass(frozen=True, slots=True)
class ScopeNode:
    """A scope the actor may address, and the smaller scopes inside it."""

    ref: ScopeRef
    name: str
    child_type: BroadcastScope | None
    children: list[Option]


@dataclass(frozen=True, slots=True)
class Preview:
    scope_name: str
    recipients: int  # will be sent to
    unreachable: int  # in the audience but blocked the bot or not on Telegram


@dataclass(frozen=True, slots=True)
class Progress:
    id: int
    status: BroadcastStatus
    total: int
    sent: int
    failed: int
    unreachable: int
    unknown: int
    cancelled: int
    remaining: int
    scheduled_at: datetime | None
    first_sent_at: datetime | None
    last_sent_at: datetime | None
    finished_at: datetime | None
    estimated_finish: datetime | None
    acks: int
    ack_requested: bool

    @property
    def finished(self) -> bool:
        return self.status in (BroadcastStatus.done, BroadcastStatus.cancelled)


# ------------------------------------------------------------------ permissions

def require_broadcaster(user: User) -> None:
    """``NotAllowed`` unless ``user`` may send notices somewhere (:func:`access.may_oversee`)."""
    if not may_oversee(user):
        raise NotAllowed()


async def _chain(session: AsyncSession, ref: ScopeRef) -> ScopeChain:
    """The place ``ref`` names and the scopes above it; ``NotFound`` for a retired one."""
    if ref.type == BroadcastScope.district:
        district = await session.get(District, ref.id)
        if district is None:
            raise NotFound("scope")
        return ScopeChain(district.id)
    if ref.type == BroadcastScope.community:
        community = await session.get(Community, ref.id)
        if community is None or not community.active:
            raise NotFound("scope")
        return ScopeChain(community.district_id, community.id)
    grid_id = ref.id
    if ref.type == BroadcastScope.building:
        building = await session.get(Building, ref.id)
        if building is None or not building.active:
            raise NotFound("scope")
        grid_id = building.grid_id
    grid = await session.get(Grid, grid_id)
    if grid is None or not grid.active:
        raise NotFound("scope")
    chain = await chain_of_grid(session, grid.id)
    assert chain is not None
    return chain


async def sender_place(session: AsyncSession, actor: User, chain: ScopeChain) -> tuple[dict[str, str], str]:
    """Who a notice is from, as its recipients read it: the office the sender speaks for over
    ``chain`` (their grid as its head, their community as its staff, their district as its
    administrator), never the person or their Telegram account.  (names, code)."""
    place: Grid | Community | District | None = None
    if chain.grid_id is not None and chain.grid_id in head_grid_ids(actor):
        place = await session.get(Grid, chain.grid_id)
    elif chain.community_id is not None and chain.community_id in staff_community_ids(actor):
        place = await session.get(Community, chain.community_id)
    elif chain.district_id in admin_district_ids(actor):
        place = await session.get(District, chain.district_id)
    if place is None:  # not reached after check_scope; the narrowest place of the scope then
        ids = ((Grid, chain.grid_id), (Community, chain.community_id), (District, chain.district_id))
        place = next(p for p in [await session.get(m, i) for m, i in ids if i is not None] if p is not None)
    return dict(place.names), place.code


async def check_scope(session: AsyncSession, user: User, ref: ScopeRef) -> None:
    """Raise unless ``user`` oversees ``ref`` (the same answer for a scope that
    does not exist and one outside theirs, so ids cannot be probed)."""
    try:
        chain = await _chain(session, ref)
    except NotFound:
        raise NotAllowed() from None
    if not oversees(user, chain):
        raise NotAllowed()


async def root_refs(session: AsyncSession, user: User, locale: str) -> list[tuple[ScopeRef, Option]]:
    """Where the actor's choice starts: their districts, communities or grids."""
    require_broadcaster(user)
    out: list[tuple[ScopeRef, Option]] = []
    for scope, ids, model in ((BroadcastScope.district, admin_district_ids(user), District),
                              (BroadcastScope.community, staff_community_ids(user), Community),
                              (BroadcastScope.grid, head_grid_ids(user), Grid)):
        if not ids:
            continue
        for row in await session.scalars(select(model).where(model.id.in_(sorted(ids))).order_by(model.code)):
            if getattr(row, "active", True):
                out.append((ScopeRef(scope, row.id), Option(row.id, row.code, i18n_name(row.names, locale, row.code))))
    if not out:
        raise NotAllowed()
    return out


async def scope_node(session: AsyncSession, user: User, ref: ScopeRef, locale: str) -> ScopeNode:
    """``ref``'s name and the scopes inside it (checked)."""
    await check_scope(session, user, ref)
    row = await session.get(_MODEL[ref.type], ref.id)
    assert row is not None
    child_type = _CHILD.get(ref.type)
    children: list[Option] = []
    if child_type is not None:
        model = _MODEL[child_type]
        parent_col = {BroadcastScope.community: Community.district_id, BroadcastScope.grid: Grid.community_id,
                      BroadcastScope.building: Building.grid_id}[child_type]
        rows = await session.scalars(select(model).where(parent_col == ref.id, model.active).order_by(model.code))
        children = [Option(c.id, c.code, i18n_name(c.names, locale, c.code)) for c in rows]
    return ScopeNode(ref, i18n_name(row.names, locale, row.code), child_type, children)


# ------------------------------------------------------------------ audience

def _grid_ids(ref: ScopeRef) -> Select[tuple[int]]:
    if ref.type == BroadcastScope.grid:
        return select(Grid.id).where(Grid.id == ref.id)
    if ref.type == BroadcastScope.building:
        return select(Building.grid_id).where(Building.id == ref.id)
    if ref.type == BroadcastScope.community:
        return select(Grid.id).where(Grid.community_id == ref.id, Grid.active)
    return (select(Grid.id).join(Community, Grid.community_id == Community.id)
            .where(Community.district_id == ref.id, Grid.active, Community.active))


def _building_ids(ref: ScopeRef) -> Select[tuple[int]]:
    if ref.type == BroadcastScope.building:
        return select(Building.id).where(Building.id == ref.id)
    return select(Building.id).where(Building.grid_id.in_(_grid_ids(ref)), Building.active)


def heads_filter(building_ids: Any) -> Any:
    """SQL condition on ``User``: the building heads and unit heads of ``building_ids`` (a subquery)."""
    return User.id.in_(select(RoleGrant.user_id).where(or_(
        and_(RoleGrant.role == Role.building_head, RoleGrant.scope_type == ScopeType.building,
             RoleGrant.scope_id.in_(building_ids)),
        and_(RoleGrant.role == Role.unit_head, RoleGrant.scope_type == ScopeType.unit,
             (RoleGrant.scope_id // UNIT_FACTOR).in_(building_ids)))))


def audience_filter(ref: ScopeRef, audience: BroadcastAudience) -> Any:
    """SQL condition on ``User`` for the people of ``audience`` in ``ref``.  The
    residents' notices also go to the heads of the buildings (units) in it, who
    pass them on at the door (bot.services.org)."""
    if ref.type == BroadcastScope.building:
        residents = User.building_id == ref.id
    else:
        residents = User.grid_id.in_(_grid_ids(ref))
    residents = or_(and_(residents, User.registered_at.is_not(None), User.building_id.is_not(None)),
                    heads_filter(_building_ids(ref)))
    workers = User.id.in_(field_team_ids(_grid_ids(ref)))
    if audience == BroadcastAudience.residents:
        return residents
    if audience == BroadcastAudience.workers:
        return workers
    return or_(residents, workers)


def _reachable() -> Any:
    return and_(User.telegram_id.is_not(None), User.unreachable.is_(False))


async def preview(session: AsyncSession, user: User, ref: ScopeRef, audience: BroadcastAudience,
                  locale: str) -> Preview:
    """The exact number of recipients the broadcast would have now."""
    node = await scope_node(session, user, ref, locale)
    cond = audience_filter(ref, audience)
    reachable = await session.scalar(select(func.count()).select_from(User).where(cond, _reachable()))
    everyone = await session.scalar(select(func.count()).select_from(User).where(cond))
    return Preview(node.name, int(reachable or 0), int((everyone or 0) - (reachable or 0)))


# ------------------------------------------------------------------- create

def validate_content(text: str, photo: str | None, document: str | None) -> None:
    text = text or ""
    if photo and document:
        raise InvalidInput("broadcast_one_attachment")
    if not text.strip() and not (photo or document):
        raise InvalidInput("broadcast_empty")
    limit = CAPTION_LIMIT if (photo or document) else TEXT_LIMIT
    if len(text) > limit:
        raise InvalidInput("broadcast_too_long", limit=limit)


def validate_schedule(scheduled_at: datetime | None, now: datetime) -> None:
    if scheduled_at is None:
        return
    if scheduled_at <= now:
        raise InvalidInput("schedule_past")
    if scheduled_at > now + MAX_SCHEDULE_AHEAD:
        raise InvalidInput("schedule_too_far", days=MAX_SCHEDULE_AHEAD.days)


_WHEN_RE = re.compile(r"^\s*(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s+(\d{1,2})[:：](\d{2})\s*$")


def parse_schedule(text: str, now: datetime, tz: ZoneInfo) -> datetime:
    """A sending time typed by the composer: ``2026-12-01 09:00`` or ``12-01 09:00``
    (this year), local time; as an instant in ``now``'s zone (UTC)."""
    match = _WHEN_RE.match(text or "")
    if not match:
        raise InvalidInput("schedule_format")
    year, month, day, hour, minute = match.groups()
    try:
        moment = datetime(int(year or now.astimezone(tz).year), int(month), int(day), int(hour), int(minute),
                          tzinfo=tz)
    except ValueError:
        raise InvalidInput("schedule_format") from None
    return moment.astimezone(now.tzinfo)


async def create_broadcast(
    session: AsyncSession,
    actor: User,
    *,
    ref: ScopeRef,
    audience: BroadcastAudience,
    text: str,
    photo: str | None = None,
    document: str | None = None,
    ack_requested: bool = False,
    scheduled_at: datetime | None = None,
    now: datetime,
    locale: str,
    default_locale: str,
    ack_label: Callable[[str], str] | None = None,
    ack_callback: Callable[[int], str] | None = None,
) -> Broadcast:
    """Check, then write the broadcast and one outbox row per recipient (not committed).

    ``ack_label(locale)`` renders the "I have read it" button in a recipient's
    language; ``ack_callback(broadcast_id)`` is its callback data.
    """
    await check_scope(session, actor, ref)
    validate_content(text, photo, document)
    validate_schedule(scheduled_at, now)
    if ack_requested and (ack_label is None or ack_callback is None):
        raise ValueError("ack_requested needs ack_label and ack_callback")
    start = scheduled_at or now
    broadcast = Broadcast(
        created_by_user_id=actor.id, scope_type=ref.type, scope_id=ref.id, audience=audience, text=text,
        photo=photo, document=document, ack_requested=ack_requested, status=BroadcastStatus.active,
        scheduled_at=scheduled_at, locale=locale, created_at=now,
        followup_at=start + ACK_FOLLOWUP_AFTER if ack_requested else None,
    )
    session.add(broadcast)
    await session.flush()
    recipients = (await session.execute(
        select(User.id, User.telegram_id, User.locale).where(audience_filter(ref, audience), _reachable())
        .order_by(User.id)
    )).all()
    if not recipients:
        raise InvalidInput("no_recipients")
    sender_names, sender_code = await sender_place(session, actor, await _chain(session, ref))
    payloads: dict[str, dict[str, Any]] = {}

    def payload_for(loc: str) -> dict[str, Any]:
        if loc not in payloads:
            _ = translator(loc)
            signed = _("📢 Notice from {sender}").format(sender=esc(i18n_name(sender_names, loc, sender_code)))
            p: dict[str, Any] = {"text": signed + "\n\n" + text if text else signed}
            if photo:
                p["photo"] = photo
            if document:
                p["document"] = document
            if ack_requested:
                assert ack_label is not None and ack_callback is not None
                p["buttons"] = [[{"text": ack_label(loc), "callback_data": ack_callback(broadcast.id)}]]
            payloads[loc] = p
        return payloads[loc]

    table = OutboxMessage.__table__
    rows = [
        {
            "user_id": uid, "chat_id": tg, "kind": OutboxKind.broadcast, "urgent": False,
            "payload": payload_for(loc or default_locale), "dedupe_key": f"bc:{broadcast.id}:{uid}",
            "status": OutboxStatus.pending, "due_at": start, "next_attempt_at": start, "attempts": 0,
            "resends": 0, "broadcast_id": broadcast.id, "created_at": now, "event_at": None,
        }
        for uid, tg, loc in recipients
    ]
    # A family member acting for a resident gets a copy, headed for whom, without the
    # "I have read it" button (bot.services.family; the resident's own row stays theirs).
    for c in await family.notice_copies(session, select(User.id).where(audience_filter(ref, audience),
                                                                       _reachable())):
        loc = c.delegate_locale or default_locale
        copy = {k: v for k, v in payload_for(loc).items() if k != "buttons"}
        head = translator(loc)("👪 For {name}:").format(name=esc(c.resident_name))
        if len(head) + 1 + len(text) <= (CAPTION_LIMIT if (photo or document) else TEXT_LIMIT):
            copy["text"] = f"{head}\n{text}"
        rows.append({**rows[0], "user_id": c.delegate_id, "chat_id": c.delegate_chat, "payload": copy,
                     "dedupe_key": f"bc:{broadcast.id}:{c.delegate_id}:f{c.resident_id}"})
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    for i in range(0, len(rows), INSERT_CHUNK):
        await session.execute(insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"]),
                               rows[i:i + INSERT_CHUNK])
    broadcast.total = len(rows)
    await counted_by_the_planner(session, len(rows))
    wake_sender_after_commit(session)
    return broadcast


async def set_progress_message(session: AsyncSession, broadcast_id: int, chat_id: int, message_id: int,
                               text: str) -> None:
    await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id)
        .values(progress_chat_id=chat_id, progress_message_id=message_id, progress_text=text)
    )


# ------------------------------------------------------------------ control

def _unlocked(session: AsyncSession, *cond: Any) -> list[Any]:
    """On PostgreSQL, only rows no sender transaction holds right now (no waiting, no deadlock)."""
    if session.bind.dialect.name != "postgresql":
        return list(cond)
    return [OutboxMessage.id.in_(select(OutboxMessage.id).where(*cond).with_for_update(skip_locked=True)), *cond]


async def _release_rows(session: AsyncSession, broadcast_id: int, statuses: list[OutboxStatus],
                        **values: Any) -> None:
    """Set ``values`` on the broadcast's rows in ``statuses`` (on PostgreSQL, those no sender
    transaction has locked: see :func:`_unlocked`), and drop their leases."""
    await session.execute(
        update(OutboxMessage).where(*_unlocked(session, OutboxMessage.broadcast_id == broadcast_id,
                                               OutboxMessage.status.in_(statuses)))
        .values(lease_owner=None, lease_expires_at=None, **values)
    )


async def _controlled(session: AsyncSession, actor: User, broadcast_id: int) -> Broadcast:
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None:
        raise NotFound("broadcast")
    if broadcast.created_by_user_id != actor.id:
        await check_scope(session, actor, ScopeRef(broadcast.scope_type, broadcast.scope_id))
    return broadcast


async def _switch(session: AsyncSession, actor: User, broadcast_id: int, allowed: tuple[BroadcastStatus, ...],
                  to: BroadcastStatus, refusal: str) -> Broadcast:
    """Move a broadcast the actor controls from one of ``allowed`` to ``to``; ``Conflict(refusal)`` otherwise."""
    broadcast = await _controlled(session, actor, broadcast_id)
    if broadcast.status not in allowed:
        raise Conflict(refusal)
    broadcast.status = to
    return broadcast


async def pause(session: AsyncSession, actor: User, broadcast_id: int) -> Broadcast:
    broadcast = await _switch(session, actor, broadcast_id, (BroadcastStatus.active,), BroadcastStatus.paused,
                              "broadcast_not_running")
    await session.flush()
    # Rows a sender holds but has not tried yet go back; it will not claim them again.
    # (A row a sender is marking this very moment is sent: skipped, not waited for.)
    await _release_rows(session, broadcast_id, [OutboxStatus.claimed], status=OutboxStatus.pending)
    return broadcast


async def resume(session: AsyncSession, actor: User, broadcast_id: int) -> Broadcast:
    broadcast = await _switch(session, actor, broadcast_id, (BroadcastStatus.paused,), BroadcastStatus.active,
                              "broadcast_not_paused")
    wake_sender_after_commit(session)
    return broadcast


async def cancel(session: AsyncSession, actor: User, broadcast_id: int, now: datetime) -> Broadcast:
    broadcast = await _switch(session, actor, broadcast_id, (BroadcastStatus.active, BroadcastStatus.paused),
                              BroadcastStatus.cancelled, "broadcast_finished")
    broadcast.finished_at = now
    await session.flush()
    # Rows a sender is marking this very moment are sent; every other open row is cancelled
    # (the claim query skips a cancelled broadcast's rows anyway).
    await _release_rows(session, broadcast_id, [OutboxStatus.pending, OutboxStatus.claimed],
                        status=OutboxStatus.cancelled, last_error="broadcast cancelled")
    return broadcast


# ----------------------------------------------------------------- progress

async def progress(session: AsyncSession, broadcast_id: int, now: datetime, *, fallback_rate: float = 30.0,
                   actor: User | None = None, not_before: datetime | None = None) -> Progress:
    """Counts by outcome, and an estimate of when it finishes (not starting
    before ``not_before``: quiet hours).  With ``actor`` the actor's right to
    see it is checked."""
    broadcast = await (_controlled(session, actor, broadcast_id) if actor is not None
                       else session.get(Broadcast, broadcast_id))
    if broadcast is None:
        raise NotFound("broadcast")
    counts = {OutboxStatus(s): n for s, n in (await session.execute(
        select(OutboxMessage.status, func.count()).where(OutboxMessage.broadcast_id == broadcast_id)
        .group_by(OutboxMessage.status)
    )).all()}
    first, last = (await session.execute(
        select(func.min(OutboxMessage.sent_at), func.max(OutboxMessage.sent_at))
        .where(OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status == OutboxStatus.sent)
    )).one()
    remaining = sum(counts.get(s, 0) for s in OPEN)
    sent = counts.get(OutboxStatus.sent, 0)
    eta = None
    if remaining and broadcast.status == BroadcastStatus.active:
        start = max(now, broadcast.scheduled_at or now, not_before or now)
        rate = fallback_rate
        if first is not None and last is not None and sent > 10 and last > first:
            rate = max(0.1, (sent - 1) / (last - first).total_seconds())
        eta = start + timedelta(seconds=remaining / rate)
    acks = 0
    if broadcast.ack_requested:
        acks = int(await session.scalar(
            select(func.count()).select_from(BroadcastAck).where(BroadcastAck.broadcast_id == broadcast_id)) or 0)
    return Progress(
        id=broadcast.id, status=broadcast.status, total=broadcast.total, sent=sent,
        failed=counts.get(OutboxStatus.failed, 0), unreachable=counts.get(OutboxStatus.unreachable, 0),
        unknown=counts.get(OutboxStatus.unknown, 0), cancelled=counts.get(OutboxStatus.cancelled, 0),
        remaining=remaining, scheduled_at=broadcast.scheduled_at, first_sent_at=first, last_sent_at=last,
        finished_at=broadcast.finished_at, estimated_finish=eta, acks=acks, ack_requested=broadcast.ack_requested,
    )


async def finish_if_drained(session: AsyncSession, broadcast_id: int, now: datetime) -> bool:
    """Mark an active broadcast done once nothing is left to send (one process wins)."""
    # One open row is enough to know: counting them all reads every row of a large broadcast.
    left = await session.scalar(select(
        select(OutboxMessage.id)
        .where(OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.status.in_(list(OPEN)))
        .exists()
    ))
    if left:
        return False
    result = await session.execute(
        update(Broadcast).where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.active)
        .values(status=BroadcastStatus.done, finished_at=now)
    )
    return bool(result.rowcount)


# ---------------------------------------------------------- acknowledgement

async def acknowledge(session: AsyncSession, user: User, broadcast_id: int, now: datetime) -> bool:
    """Record "I have read it"; False if it was already recorded.  Only a
    recipient of a broadcast that asked for it may acknowledge."""
    broadcast = await session.get(Broadcast, broadcast_id)
    if broadcast is None or not broadcast.ack_requested:
        raise NotAllowed()
    was_recipient = await session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.broadcast_id == broadcast_id, OutboxMessage.user_id == user.id)
    )
    if was_recipient is None:
        raise NotAllowed()
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    result = await session.execute(
        insert(BroadcastAck).values(broadcast_id=broadcast_id, user_id=user.id, acked_at=now)
        .on_conflict_do_nothing(index_elements=["broadcast_id", "user_id"])
    )
    return bool(result.rowcount)


@dataclass
class FollowupResident:
    user_id: int
    name: str
    building_names: dict[str, str]
    building_code: str
    phone: str | None  # masked (138****3001): enough to recognise, not to copy
    delivery: OutboxStatus  # sent, unreachable, failed, unknown...
    building_id: int = 0
    unit: int | None = None


@dataclass
class Followup:
    """Residents of one grid who did not acknowledge an important notice."""

    broadcast_id: int
    grid_id: int
    grid_code: str
    grid_names: dict[str, str]
    notice: str
    workers: list[User] = field(default_factory=list)
    residents: list[FollowupResident] = field(default_factory=list)
    # The heads of the grid's buildings and units: (head, building id, their units or None for all).
    heads: list[tuple[User, int, frozenset[int] | None]] = field(default_factory=list)

    def for_head(self, building_id: int, units: frozenset[int] | None) -> Followup:
        """The list a building (unit) head gets: their building's (unit's) residents, no phones."""
        mine = [replace(r, phone=None) for r in self.residents
                if r.building_id == building_id and (units is None or r.unit in units)]
        return replace(self, residents=mine, workers=[], heads=[])


async def due_followups(session: AsyncSession, now: datetime) -> list[tuple[Broadcast, list[Followup]]]:
    """Broadcasts whose acknowledgement window has passed, with per-grid lists
    of residents (recipients) who have not pressed "I have read it", and the
    grid's workers and grid heads who should follow up in person."""
    broadcasts = list(await session.scalars(
        select(Broadcast).where(Broadcast.ack_requested, Broadcast.followup_sent_at.is_(None),
                                Broadcast.followup_at <= now,
                                Broadcast.status.in_([BroadcastStatus.active, BroadcastStatus.done]))
        .order_by(Broadcast.id)
    ))
    out = []
    for broadcast in broadcasts:
        acked = select(BroadcastAck.user_id).where(BroadcastAck.broadcast_id == broadcast.id)
        rows = (await session.execute(
            select(User, OutboxMessage.status, Building)
            .join(OutboxMessage, OutboxMessage.user_id == User.id)
            .join(Building, User.building_id == Building.id)
            .where(OutboxMessage.broadcast_id == broadcast.id, User.registered_at.is_not(None),
                   User.id.not_in(acked),
                   # the recipients' own rows, not the copies for their family (bc:{id}:{user}:f{resident})
                   OutboxMessage.dedupe_key == literal(f"bc:{broadcast.id}:") + cast(User.id, String))
            .order_by(Building.code, User.id)
        )).all()
        by_grid: dict[int, Followup] = {}
        for user, status, building in rows:
            item = by_grid.get(building.grid_id)
            if item is None:
                grid = await session.get(Grid, building.grid_id)
                assert grid is not None
                item = by_grid[building.grid_id] = Followup(broadcast.id, grid.id, grid.code, dict(grid.names),
                                                            broadcast.text)
                item.workers = list(await session.scalars(
                    select(User).where(User.id.in_(field_team_ids([grid.id]))).order_by(User.id)))
                item.heads = await _heads_of_grid(session, grid.id)
            # A worker who lives in the grid is on their own list only if they are a resident.
            item.residents.append(FollowupResident(
                user.id, " ".join(x for x in (user.first_name, user.last_name) if x), dict(building.names),
                building.code, mask_phone(user.phone), OutboxStatus(status), building.id, user.unit))
        out.append((broadcast, list(by_grid.values())))
    return out


async def _heads_of_grid(session: AsyncSession, grid_id: int) -> list[tuple[User, int, frozenset[int] | None]]:
    """Each head of a building (unit) of the grid, with the building and their units there."""
    buildings = select(Building.id).where(Building.grid_id == grid_id)
    heads = list(await session.scalars(select(User).where(heads_filter(buildings)).order_by(User.id)))
    ids = set(await session.scalars(buildings))
    return [(head, building_id, units) for head in heads for building_id, units in headed(head).items()
            if building_id in ids]


async def mark_followup_sent(session: AsyncSession, broadcast_id: int, now: datetime) -> None:
    await session.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(followup_sent_at=now))
