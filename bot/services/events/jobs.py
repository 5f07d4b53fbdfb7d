"""The reminders of service days: a day before an event, everyone with a seat
gets one (``OutboxKind.reminder``, dedupe key per event and person, so a rerun
queues nothing new; quiet hours hold it like any reminder)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.jobs import JobContext, in_transaction, recurring
from bot.services.escape import esc
from bot.services.events.service import REMIND_BEFORE, event_cb
from bot.services.l10n import translator
from bot.services.notify import Button, notify, recipient_locale
from models import EventSignup, EventStatus, OutboxKind, ServiceEvent, SignupStatus, User


async def send_reminders(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Queue the reminders of events starting within :data:`REMIND_BEFORE`; how many were new."""
    rows = (await session.execute(
        select(ServiceEvent, User).join(EventSignup, EventSignup.event_id == ServiceEvent.id)
        .join(User, User.id == EventSignup.user_id)
        .where(ServiceEvent.status == EventStatus.open, ServiceEvent.starts_at > now,
               ServiceEvent.starts_at <= now + REMIND_BEFORE, EventSignup.status == SignupStatus.going)
        .order_by(ServiceEvent.id, User.id))).all()
    count = 0
    for event, person in rows:
        locale = recipient_locale(person, settings.default_locale)
        _ = translator(locale)
        text = _("⏰ Reminder: {title}, {when}, at {place}. If you cannot come, please cancel so that someone "
                 "waiting can take your seat.").format(
            title=esc(event.title), when=event.starts_at.astimezone(settings.tz).strftime("%m-%d %H:%M"),
            place=esc(event.place))
        count += await notify(session, recipient=person, kind=OutboxKind.reminder,
                              dedupe_key=f"ev:{event.id}:remind:{person.id}", text=text,
                              buttons=[[Button(_("❌ Cancel my seat"), event_cb("leave", event.id))]])
    return count


@recurring("events.reminders", every=timedelta(minutes=15))
async def reminders(ctx: JobContext) -> None:
    """A day before each service day, everyone with a seat is reminded."""
    await in_transaction(ctx, send_reminders)
