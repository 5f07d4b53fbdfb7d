"""Retention: raw inbound updates and the texts of sent messages are kept
``RETENTION_DAYS`` days (docs/privacy.md), then purged in small batches; so
is the contact an Open311 client gave with a request, once its case has been
closed that long (docs/open311.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from models import (
    Case,
    CaseStatus,
    InboundStatus,
    InboundUpdate,
    Open311Request,
    OutboxMessage,
    OutboxStatus,
)

BATCH = 1000

# Outbox rows that will not be sent (again): their text is no longer needed.
# Their rows stay (without text): delivery figures and dedupe keys use them.
_FINISHED = (OutboxStatus.sent, OutboxStatus.unknown, OutboxStatus.failed, OutboxStatus.unreachable,
             OutboxStatus.cancelled)


@dataclass(frozen=True, slots=True)
class PurgeResult:
    inbound_deleted: int
    outbox_cleared: int
    contacts_cleared: int = 0


async def purge_expired(sessionmaker: async_sessionmaker[AsyncSession], days: int, now: datetime, *,
                        batch: int = BATCH) -> PurgeResult:
    """Delete handled inbound updates received more than ``days`` ago and clear
    the payload (text, buttons, file ids) of finished outbox rows created more
    than ``days`` ago; one short transaction per batch, so the bot keeps
    serving updates meanwhile (SQLite has one writer)."""
    cutoff = now - timedelta(days=days)
    inbound = outbox = 0
    while True:
        async with sessionmaker() as session:
            ids = list(await session.scalars(
                select(InboundUpdate.id).where(InboundUpdate.received_at < cutoff,
                                               InboundUpdate.status != InboundStatus.pending)
                .order_by(InboundUpdate.id).limit(batch)))
            if ids:
                await session.execute(delete(InboundUpdate).where(InboundUpdate.id.in_(ids)))
                await session.commit()
        inbound += len(ids)
        if len(ids) < batch:
            break
    last_id = 0
    while True:
        async with sessionmaker() as session:
            # Rows already cleared ('{}') are skipped in SQL: they stay for good, so a
            # nightly run must not fetch them all again; each batch starts after the last.
            ids = list(await session.scalars(
                select(OutboxMessage.id).where(
                    OutboxMessage.id > last_id, OutboxMessage.created_at < cutoff,
                    OutboxMessage.status.in_(_FINISHED), cast(OutboxMessage.payload, String) != "{}")
                .order_by(OutboxMessage.id).limit(batch)))
            if ids:
                await session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(payload={}))
                await session.commit()
        outbox += len(ids)
        if len(ids) < batch:
            break
        last_id = ids[-1]
    return PurgeResult(inbound, outbox, await _clear_contacts(sessionmaker, cutoff, batch))


_CONTACT = (Open311Request.email, Open311Request.phone, Open311Request.first_name, Open311Request.last_name,
            Open311Request.device_id, Open311Request.account_id)


async def _clear_contacts(sessionmaker: async_sessionmaker[AsyncSession], cutoff: datetime, batch: int) -> int:
    """The reporter's contact of requests filed through Open311 whose case closed before ``cutoff``."""
    cleared = 0
    while True:
        async with sessionmaker() as session:
            ids = list(await session.scalars(
                select(Open311Request.id).join(Case, Case.id == Open311Request.case_id)
                .where(Case.status == CaseStatus.closed, Case.closed_at < cutoff,
                       or_(*(column.is_not(None) for column in _CONTACT)))
                .order_by(Open311Request.id).limit(batch)))
            if ids:
                await session.execute(update(Open311Request).where(Open311Request.id.in_(ids))
                                      .values({column: None for column in _CONTACT}))
                await session.commit()
        cleared += len(ids)
        if len(ids) < batch:
            return cleared
