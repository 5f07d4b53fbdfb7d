"""One-time invites that grant a role and scope (worker of a grid, staff of a community...)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, places
from bot.services.errors import InvalidInput
from models import (
    ROLE_SCOPE,
    AccessAction,
    Invite,
    Role,
    RoleGrant,
    ScopeType,
    User,
    utcnow,
)

_DURATION_RE = re.compile(r"^(\d{1,4})([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_EXPIRY = timedelta(days=366)


class InviteError(InvalidInput):
    """``code`` is one of ``invite_unknown``, ``invite_used``, ``invite_expired``."""


@dataclass(frozen=True, slots=True)
class CreatedInvite:
    payload: str
    role: Role
    scope_type: ScopeType
    scope_code: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Grant:
    role: Role
    scope_type: ScopeType
    scope_id: int
    scope_code: str


def parse_duration(text: str) -> timedelta:
    """``30m``, ``12h``, ``7d``, ``2w`` → timedelta."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise InvalidInput("bad_duration")
    value = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    if not timedelta(0) < value <= MAX_EXPIRY:
        raise InvalidInput("bad_duration")
    return value


async def resolve_scope(session: AsyncSession, role: Role, scope_code: str) -> tuple[ScopeType, int]:
    """The role's kind of place and the id of the one ``scope_code`` names (a unit: ``BUILDING/2``)."""
    scope_type = ROLE_SCOPE[role]
    return scope_type, await places.resolve(session, scope_type, scope_code)


async def create_invite(
    session: AsyncSession,
    *,
    role: Role,
    scope_code: str,
    expires_in: timedelta = timedelta(days=7),
    created_by: User | None = None,
    now: datetime | None = None,
) -> CreatedInvite:
    scope_type, scope_id = await resolve_scope(session, role, scope_code)
    scope_code = await places.code_of(session, scope_type, scope_id)  # as stored: upper case, no spaces
    now = now or utcnow()
    invite = Invite(
        payload=secrets.token_urlsafe(24),  # 32 chars of [A-Za-z0-9_-]: a valid deep-link payload
        role=role,
        scope_type=scope_type,
        scope_id=scope_id,
        scope_code=scope_code,
        created_at=now,
        created_by_user_id=created_by.id if created_by else None,
        expires_at=now + expires_in,
    )
    session.add(invite)
    await session.flush()
    return CreatedInvite(invite.payload, role, scope_type, scope_code, invite.expires_at)


async def redeem_invite(session: AsyncSession, user: User, payload: str, *, now: datetime | None = None) -> Grant:
    """Grant the invite's role to ``user``. Works once, whoever presses first."""
    now = now or utcnow()
    invite = await session.scalar(select(Invite).where(Invite.payload == payload[:64]))
    if invite is None:
        raise InviteError("invite_unknown")
    if invite.used_at is not None:
        raise InviteError("invite_used")
    if invite.expires_at <= now:
        raise InviteError("invite_expired")
    # Conditional update: of two simultaneous redemptions exactly one matches.
    result = await session.execute(
        update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None))
        .values(used_at=now, used_by_user_id=user.id)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise InviteError("invite_used")
    existing = await session.scalar(
        select(RoleGrant).where(
            RoleGrant.user_id == user.id,
            RoleGrant.role == invite.role,
            RoleGrant.scope_type == invite.scope_type,
            RoleGrant.scope_id == invite.scope_id,
        )
    )
    if existing is None:
        grant = RoleGrant(
            user_id=user.id, role=invite.role, scope_type=invite.scope_type, scope_id=invite.scope_id,
            invite_id=invite.id, granted_at=now,
        )
        user.roles.append(grant)  # cascades the insert
    if user.registered_at is None:
        user.registered_at = now
    await session.flush()
    if existing is None:
        # The grant is the invite creator's doing (null: the operator's command line).
        await audit.record_grant(session, AccessAction.role_granted, grant, actor_id=invite.created_by_user_id,
                                 scope_code=invite.scope_code, how="invite", at=now)
    return Grant(invite.role, invite.scope_type, invite.scope_id, invite.scope_code)
