"""API keys of the systems that file requests (``python -m bot open311-key``).

A key is 32 random bytes, URL-safe; only its SHA-256 digest is stored, so a
copy of the database gives nobody a working key.  Each client has a user row
without a Telegram id that stands as the resident of the cases it files.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import Conflict, InvalidInput
from models import Open311Client, User

KEY_PREFIX = "o311_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    name: str
    user_id: int


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


async def create_key(session: AsyncSession, name: str, now: datetime) -> str:
    """A new key for client ``name`` (a revoked client gets a fresh one); the key is returned once."""
    name = (name or "").strip()
    if not NAME_RE.match(name):
        raise InvalidInput("bad_name")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    client = await session.scalar(select(Open311Client).where(Open311Client.name == name))
    if client is not None and client.revoked_at is None:
        raise Conflict("key_exists", name=name)
    if client is None:
        user = User(telegram_id=None, first_name=f"Open311 · {name}"[:128], created_at=now)
        session.add(user)
        await session.flush()
        session.add(Open311Client(name=name, key_hash=digest(key), user_id=user.id, created_at=now))
    else:
        client.key_hash, client.revoked_at, client.created_at = digest(key), None, now
    await session.flush()
    return key


async def revoke_key(session: AsyncSession, name: str, now: datetime) -> bool:
    """End client ``name``'s key; False when there is no such live key."""
    client = await session.scalar(select(Open311Client).where(Open311Client.name == (name or "").strip(),
                                                              Open311Client.revoked_at.is_(None)))
    if client is None:
        return False
    client.revoked_at = now
    await session.flush()
    return True


async def authenticate(session: AsyncSession, key: str | None) -> Client | None:
    """The live client holding ``key``, or None."""
    if not key or len(key) > 200:
        return None
    row = await session.scalar(select(Open311Client).where(Open311Client.key_hash == digest(key),
                                                           Open311Client.revoked_at.is_(None)))
    return Client(row.id, row.name, row.user_id) if row is not None else None
