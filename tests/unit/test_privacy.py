"""Privacy services alone: retention, the nightly job, and database errors
that never carry parameter values (docs/privacy.md)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot.jobs import JobContext, load_jobs
from bot.services.privacy import purge_expired
from models import (
    InboundStatus,
    InboundUpdate,
    OutboxKind,
    OutboxMessage,
    OutboxStatus,
    User,
    utcnow,
)
from models.database import create_engine, create_sessionmaker
from tests.factories import SETTINGS, make_user


async def _inbound(s, update_id: int, age_days: float, status: InboundStatus) -> None:  # type: ignore[no-untyped-def]
    await s.execute(insert(InboundUpdate).values(
        bot_id=1, update_id=update_id, chat_id=42, payload='{"message":{"text":"my phone 13800000000"}}',
        status=status, attempts=1, received_at=utcnow() - timedelta(days=age_days)))


async def _outbox(s, user: User, key: str, age_days: float, status: OutboxStatus) -> None:  # type: ignore[no-untyped-def]
    s.add(OutboxMessage(user_id=user.id, chat_id=user.telegram_id, kind=OutboxKind.case_update,
                        payload={"text": "your phone 13800000000"}, dedupe_key=key, status=status,
                        created_at=utcnow() - timedelta(days=age_days)))


async def test_retention_purges_old_raw_updates_and_sent_texts_only(sessionmaker):
    async with sessionmaker() as s:
        user = await make_user(s, 9001)
        await _inbound(s, 1, 31, InboundStatus.done)
        await _inbound(s, 2, 31, InboundStatus.failed)
        await _inbound(s, 3, 31, InboundStatus.pending)  # not handled yet: kept
        await _inbound(s, 4, 29, InboundStatus.done)  # young: kept
        await _outbox(s, user, "old-sent", 31, OutboxStatus.sent)
        await _outbox(s, user, "old-cancelled", 31, OutboxStatus.cancelled)
        await _outbox(s, user, "old-pending", 31, OutboxStatus.pending)  # still to send: kept
        await _outbox(s, user, "young-sent", 29, OutboxStatus.sent)
        await s.commit()
    result = await purge_expired(sessionmaker, 30, utcnow(), batch=1)  # batches of one: the loops end
    assert (result.inbound_deleted, result.outbox_cleared) == (2, 2)
    async with sessionmaker() as s:
        assert sorted(await s.scalars(select(InboundUpdate.update_id))) == [3, 4]
        texts = {k: p for k, p in (await s.execute(select(OutboxMessage.dedupe_key, OutboxMessage.payload))).all()}
    assert texts["old-sent"] == {} and texts["old-cancelled"] == {}
    assert texts["old-pending"] and texts["young-sent"]  # rows and their figures stay
    again = await purge_expired(sessionmaker, 30, utcnow())
    assert (again.inbound_deleted, again.outbox_cleared) == (0, 0)


async def test_retention_job_uses_the_setting(sessionmaker):
    async with sessionmaker() as s:
        await _inbound(s, 1, 8, InboundStatus.done)
        await s.commit()
    job = load_jobs()["privacy.retention"]
    now = utcnow()
    await job.func(JobContext(sessionmaker, SETTINGS, now, now))  # default 30 days: kept
    async with sessionmaker() as s:
        assert list(await s.scalars(select(InboundUpdate.update_id))) == [1]
    settings = SETTINGS.model_copy(update={"retention_days": 7})
    await job.func(JobContext(sessionmaker, settings, now, now))
    async with sessionmaker() as s:
        assert list(await s.scalars(select(InboundUpdate.update_id))) == []


async def test_database_errors_never_carry_parameter_values(db_url, caplog):
    engine = create_engine(db_url, echo=True)  # echo: statements are logged too
    sessionmaker = create_sessionmaker(engine)
    phone = "+8613912345678"
    try:
        async with sessionmaker() as s:
            s.add(User(telegram_id=777001, first_name="秘密姓名", phone=phone))
            await s.commit()
        caplog.set_level(logging.INFO, logger="sqlalchemy.engine")
        with pytest.raises(IntegrityError) as failed:
            async with sessionmaker() as s:
                s.add(User(telegram_id=777001, first_name="秘密姓名", phone=phone))
                await s.commit()
        assert phone not in str(failed.value) and "秘密姓名" not in str(failed.value)
        assert "parameters hidden" in str(failed.value)
        assert phone not in caplog.text and "秘密姓名" not in caplog.text
    finally:
        await engine.dispose()
