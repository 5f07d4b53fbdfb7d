"""Privacy services alone: retention, the nightly job, and database errors
that never carry parameter values (docs/privacy.md)."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from bot.jobs import JobContext, load_jobs
from bot.services import appointments as appt
from bot.services.privacy import erase_user, purge_expired
from models import (
    Appointment,
    AppointmentSlot,
    AppointmentStatus,
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
from tests.unit.appointments.world import SETTINGS as APPT_SETTINGS
from tests.unit.appointments.world import T0, at, make_appt_world


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


async def test_erasure_cancels_upcoming_appointments_and_their_reminders(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        resident = aw.w.resident
        booked = await appt.book(s, APPT_SETTINGS, resident, station_id=aw.station.id, service_id=aw.visit.id,
                                 starts_at=at(2, "10:00"), now=T0)
        await s.commit()
        await erase_user(s, APPT_SETTINGS, resident, T0)
        await s.commit()
        appointment = await s.get(Appointment, booked.id)
        assert appointment.status == AppointmentStatus.cancelled and appointment.resident_id == resident.id
        assert (await s.get(AppointmentSlot, appointment.slot_id)).booked == 0
        reminders = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.user_id == resident.id)))
        assert reminders and all(r.status == OutboxStatus.cancelled and r.payload == {} and r.chat_id == 0
                                 for r in reminders)
        assert resident.telegram_id is None and resident.phone is None


def test_the_notice_button_is_made_once_per_language():
    from bot.i18n import create_i18n
    from handlers.callbacks import PrivacyCb
    from handlers.resident import agree_keyboard

    i18n = create_i18n()
    made = {}
    for locale in ("zh-Hans", "zh-Hant", "en", "zh-Hans"):
        with i18n.context(), i18n.use_locale(locale):
            markup = agree_keyboard()
            button = markup.inline_keyboard[0][0]
            assert button.text == i18n.gettext("✅ I agree", locale=locale)
            assert button.callback_data == PrivacyCb(action="agree").pack()
            assert made.setdefault(locale, markup) is markup  # the same object each time
            other = agree_keyboard(PrivacyCb(action="keep"))  # another button's data: its own markup
            assert other.inline_keyboard[0][0].callback_data == PrivacyCb(action="keep").pack()
    # One per text: languages that write the button alike share it.
    texts = {m.inline_keyboard[0][0].text for m in made.values()}
    assert len({id(m) for m in made.values()}) == len(texts) > 1
