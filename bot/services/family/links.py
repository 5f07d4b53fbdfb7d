"""Family delegates: the rules (see the package's docstring).

Every function checks its actor, buttons included: only the resident
confirms, refuses or changes a link of theirs; either side ends it; a
delegate acts only for a resident whose link with them is active *now*
(:func:`principal`), so a forged ``r`` in a button, an ended link or someone
else's relative is refused the same way.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Settings
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.escape import esc
from bot.services.l10n import Translate, translator
from bot.services.notify import Button, notify, recipient_locale
from bot.services.users import needs_privacy_consent
from models import FamilyLink, FamilyLinkStatus, OutboxKind, User

TOKEN_PREFIX = "fam_"
LINK_TTL = timedelta(hours=24)
MAX_LINKS = 3  # invitations, pending and active links of one resident at a time
FAMILY_CB = "fm"
LIVE = (FamilyLinkStatus.pending, FamilyLinkStatus.active)


def fam_cb(action: str, link_id: int) -> str:
    """Callback data of family buttons written into outbox rows (handlers.family.ui.FamCb)."""
    return f"{FAMILY_CB}:{action}:{link_id}:0"


@dataclass(frozen=True, slots=True)
class Person:
    """The other side of a link, as the one looking at it sees them."""

    link_id: int
    user_id: int | None
    name: str
    status: FamilyLinkStatus
    resident_copies: bool


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _name(user: User | None) -> str:
    return (user.first_name or "").strip() if user is not None else ""


# ------------------------------------------------------------------ the invitation

async def _expire(session: AsyncSession, resident_id: int, now: datetime) -> None:
    for link in await session.scalars(select(FamilyLink).where(
            FamilyLink.resident_id == resident_id, FamilyLink.status == FamilyLinkStatus.invited,
            FamilyLink.expires_at <= now)):
        link.status, link.ended_at = FamilyLinkStatus.ended, now


async def create_invite(session: AsyncSession, resident: User, now: datetime) -> str:
    """A one-time token for the ``t.me/<bot>?start=fam_<token>`` link, valid 24 hours;
    only its hash is stored."""
    if not resident.is_registered or resident.building_id is None:
        raise NotAllowed("family_resident_only")
    await _expire(session, resident.id, now)
    open_links = await session.scalar(select(func.count()).select_from(FamilyLink).where(
        FamilyLink.resident_id == resident.id,
        FamilyLink.status.in_([FamilyLinkStatus.invited, *LIVE])))
    if (open_links or 0) >= MAX_LINKS:
        raise Conflict("family_limit", limit=MAX_LINKS)
    token = secrets.token_urlsafe(24)
    session.add(FamilyLink(resident_id=resident.id, token_hash=_hash(token), status=FamilyLinkStatus.invited,
                           expires_at=now + LINK_TTL, created_at=now))
    await session.flush()
    return token


async def open_invite(session: AsyncSession, settings: Settings, delegate: User, payload: str,
                      now: datetime) -> FamilyLink:
    """The family member opened the link: it is used up, and the resident is asked to confirm.
    Someone new must first agree to the privacy notice (nothing about them is kept before)."""
    if needs_privacy_consent(delegate):
        raise NotAllowed("privacy_consent_needed")
    token = payload.removeprefix(TOKEN_PREFIX)
    link = await session.scalar(select(FamilyLink).where(FamilyLink.token_hash == _hash(token))
                                .with_for_update())
    if link is None:
        raise NotFound("family_link")
    if link.delegate_id == delegate.id and link.status in LIVE:
        raise Conflict("family_already")  # their own second tap (or the link opened again)
    if link.status != FamilyLinkStatus.invited:
        raise Conflict("family_link_used")
    if link.expires_at <= now:
        raise Conflict("family_link_expired")
    if link.resident_id == delegate.id:
        raise InvalidInput("family_self")
    already = await session.scalar(select(FamilyLink.id).where(
        FamilyLink.resident_id == link.resident_id, FamilyLink.delegate_id == delegate.id,
        FamilyLink.status.in_(LIVE)))
    if already is not None:
        raise Conflict("family_already")
    link.status, link.delegate_id, link.opened_at = FamilyLinkStatus.pending, delegate.id, now
    await session.flush()
    resident = await session.get(User, link.resident_id)
    assert resident is not None
    _ = translator(recipient_locale(resident, settings.default_locale))
    await notify(session, recipient=resident, kind=OutboxKind.nudge, dedupe_key=f"fam:{link.id}:ask",
                 text=_("👪 {name} opened your family link. Allow them to act for you? They could ask for help "
                        "and follow your cases, book and cancel your appointments, and get your reminders. "
                        "You can end it at any time in 👤 My profile → 👪 My family.").format(name=esc(_name(delegate))),
                 buttons=[[Button(_("✅ Yes, allow"), fam_cb("ok", link.id))],
                          [Button(_("❌ No"), fam_cb("no", link.id))]], urgent=True)
    return link


async def _own_link(session: AsyncSession, resident: User, link_id: int) -> FamilyLink:
    link = await session.get(FamilyLink, link_id, populate_existing=True, with_for_update=True)
    if link is None or link.resident_id != resident.id:
        raise NotFound("family_link")
    return link


async def answer_request(session: AsyncSession, settings: Settings, resident: User, link_id: int, allow: bool,
                         now: datetime) -> FamilyLink:
    """The resident allows (the link becomes active) or refuses a family member who opened their link."""
    link = await _own_link(session, resident, link_id)
    if link.status != FamilyLinkStatus.pending:
        raise Conflict("family_not_pending")
    delegate = await session.get(User, link.delegate_id) if link.delegate_id else None
    assert delegate is not None  # a pending link has one
    _ = translator(recipient_locale(delegate, settings.default_locale))
    if allow:
        link.status, link.confirmed_at = FamilyLinkStatus.active, now
        text = _("✅ {name} allowed you to act for them. Tap 👪 My family below, or find it any time in "
                 "👤 My profile.").format(name=esc(_name(resident)))
        buttons = [[Button(_("👪 My family"), fam_cb("menu", 0))]]
    else:
        link.status, link.ended_at, link.ended_by_id = FamilyLinkStatus.ended, now, resident.id
        text = _("{name} did not allow the family link.").format(name=esc(_name(resident)))
        buttons = None
    await session.flush()
    await notify(session, recipient=delegate, kind=OutboxKind.nudge,
                 dedupe_key=f"fam:{link.id}:{'ok' if allow else 'no'}", text=text, buttons=buttons)
    return link


async def end(session: AsyncSession, settings: Settings, user: User, link_id: int, now: datetime) -> FamilyLink:
    """Either side ends a link (pending or active); the other side is told."""
    link = await session.get(FamilyLink, link_id, populate_existing=True, with_for_update=True)
    if link is None or user.id not in (link.resident_id, link.delegate_id):
        raise NotFound("family_link")
    if link.status not in LIVE:
        raise Conflict("family_ended")
    link.status, link.ended_at, link.ended_by_id = FamilyLinkStatus.ended, now, user.id
    await session.flush()
    other_id = link.delegate_id if user.id == link.resident_id else link.resident_id
    other = await session.get(User, other_id) if other_id else None
    if other is not None:
        _ = translator(recipient_locale(other, settings.default_locale))
        await notify(session, recipient=other, kind=OutboxKind.nudge, dedupe_key=f"fam:{link.id}:end",
                     text=_("👪 The family link with {name} has ended.").format(name=esc(_name(user))))
    return link


async def set_copies(session: AsyncSession, resident: User, link_id: int, on: bool) -> FamilyLink:
    """The resident chooses whether they still get their own reminders and case messages too."""
    link = await _own_link(session, resident, link_id)
    if link.status != FamilyLinkStatus.active:
        raise Conflict("family_ended")
    link.resident_copies = on
    await session.flush()
    return link


# ------------------------------------------------------------------ who acts for whom

async def principals(session: AsyncSession, delegate: User) -> list[Person]:
    """The residents ``delegate`` may act for now."""
    rows = (await session.execute(
        select(FamilyLink, User).join(User, User.id == FamilyLink.resident_id)
        .where(FamilyLink.delegate_id == delegate.id, FamilyLink.status == FamilyLinkStatus.active)
        .order_by(FamilyLink.id))).all()
    return [Person(link.id, user.id, _name(user), link.status, link.resident_copies) for link, user in rows]


async def delegates(session: AsyncSession, resident: User) -> list[Person]:
    """The family members linked to ``resident`` (pending or active)."""
    rows = (await session.execute(
        select(FamilyLink, User).join(User, User.id == FamilyLink.delegate_id)
        .where(FamilyLink.resident_id == resident.id, FamilyLink.status.in_(LIVE)).order_by(FamilyLink.id))).all()
    return [Person(link.id, user.id, _name(user), link.status, link.resident_copies) for link, user in rows]


async def is_delegate(session: AsyncSession, actor_id: int, resident_id: int) -> bool:
    """``actor_id`` acts for ``resident_id`` through an active family link, now."""
    return await session.scalar(select(FamilyLink.id).where(
        FamilyLink.resident_id == resident_id, FamilyLink.delegate_id == actor_id,
        FamilyLink.status == FamilyLinkStatus.active).limit(1)) is not None


async def principal(session: AsyncSession, actor: User, resident_id: int | None) -> User:
    """Whom ``actor`` acts for: themselves (no id, or their own), or a resident who linked
    them and whose link is active now; ``NotAllowed("family_not_linked")`` for anyone else
    (a forged button, an ended link)."""
    if not resident_id or resident_id == actor.id:
        return actor
    if not await is_delegate(session, actor.id, resident_id):
        raise NotAllowed("family_not_linked")
    resident = await session.get(User, resident_id)
    if resident is None:
        raise NotAllowed("family_not_linked")
    return resident


async def tell_resident(session: AsyncSession, settings: Settings, actor: User, resident_id: int, dedupe_key: str,
                        render: Callable[[Translate, str], str]) -> None:
    """When ``actor`` acted as the family member of ``resident_id`` (a booking, a cancellation,
    a request sent), the resident hears it, in their language: ``render(_, the family member's
    name)``.  Not a reminder nor a case message, so no copy goes back to the family member;
    nothing when ``actor`` acted for themselves or as a worker."""
    if actor.id == resident_id or not await is_delegate(session, actor.id, resident_id):
        return
    resident = await session.get(User, resident_id)
    if resident is None or resident.telegram_id is None:
        return
    _ = translator(recipient_locale(resident, settings.default_locale))
    await notify(session, recipient=resident, kind=OutboxKind.nudge, dedupe_key=dedupe_key,
                 text=render(_, esc(_name(actor))))


@dataclass(frozen=True, slots=True)
class NoticeCopy:
    """A staff notice to a resident, copied to a family member acting for them."""

    resident_id: int
    resident_name: str
    delegate_id: int
    delegate_chat: int
    delegate_locale: str | None


async def notice_copies(session: AsyncSession, resident_ids: Any) -> list[NoticeCopy]:
    """The family members (reachable on Telegram) acting now for the residents of
    ``resident_ids`` (a select of user ids): who gets a copy of a staff notice."""
    resident, delegate = aliased(User), aliased(User)
    rows = (await session.execute(
        select(resident.id, resident.first_name, delegate.id, delegate.telegram_id, delegate.locale)
        .join(FamilyLink, FamilyLink.resident_id == resident.id).join(delegate, delegate.id == FamilyLink.delegate_id)
        .where(resident.id.in_(resident_ids), FamilyLink.status == FamilyLinkStatus.active,
               delegate.telegram_id.is_not(None), delegate.unreachable.is_(False))
        .order_by(FamilyLink.id))).all()
    return [NoticeCopy(rid, name or "", did, chat, loc) for rid, name, did, chat, loc in rows]
