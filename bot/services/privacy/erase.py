"""Erasure of a person's identity at their request (/deletemydata).

What identifies them goes: their profile (name, username, phone, home,
Telegram id), the raw updates they sent, the texts of messages sent to them,
the files they sent and the words they wrote.  What stays is anonymous: the
case rows with their times, statuses and numeric ratings, so that the grid's
figures do not change.  Their open cases are withdrawn first (the worker is
told, as for any withdrawal), their drafts deleted and their upcoming
appointments cancelled.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import appointments, cases, events
from bot.services.errors import Conflict, NotAllowed
from models import (
    Appointment,
    AppointmentStatus,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseFollower,
    CaseRating,
    CaseStatus,
    EventSignup,
    EventStatus,
    Household,
    InboundStatus,
    InboundUpdate,
    OutboxMessage,
    OutboxStatus,
    PartyMember,
    ServiceEvent,
    SignupStatus,
    User,
)

ERASED_TEXT = "[erased at the resident's request]"
"""What replaces a text an erased person wrote (stored, not shown in their language: they are gone)."""

_WITHDRAWABLE = (CaseStatus.new, CaseStatus.accepted, CaseStatus.in_progress, CaseStatus.reopened)


async def erase_user(session: AsyncSession, settings: Settings, user: User, now: datetime, *,
                     current_update: int | None = None) -> None:
    """Erase ``user``'s identity everywhere (the caller is the person themselves).
    ``current_update``: the stored inbound update asking for it (its row id),
    cleared too: it names them and is marked handled in the same transaction.

    Someone who holds a role must have it removed first: their name and
    actions are part of the record of their work."""
    if user.roles:
        raise NotAllowed("erase_has_role")
    telegram_id = user.telegram_id
    own_cases = select(Case.id).where(Case.resident_id == user.id)
    for case_id in list(await session.scalars(own_cases.where(Case.status.in_(_WITHDRAWABLE)))):
        await cases.withdraw(session, settings, user, case_id, now)
    await session.execute(delete(Case).where(Case.resident_id == user.id, Case.status == CaseStatus.draft))
    # Upcoming appointments are cancelled (the seat is freed); one past the station's
    # cancel cutoff stays booked, without its reminders (cancelled with the outbox below).
    for appointment_id in list(await session.scalars(select(Appointment.id).where(
            Appointment.resident_id == user.id, Appointment.status == AppointmentStatus.booked,
            Appointment.starts_at > now))):
        try:  # a refusal comes before any write: nothing to undo
            await appointments.cancel(session, settings, user, appointment_id, now)
        except Conflict:
            pass
    # Seats at service days still to come are given up (the first waiting takes them).
    for event_id in list(await session.scalars(select(EventSignup.event_id).join(
            ServiceEvent, ServiceEvent.id == EventSignup.event_id).where(
            EventSignup.user_id == user.id, EventSignup.status.in_((SignupStatus.going, SignupStatus.waiting)),
            ServiceEvent.status == EventStatus.open, ServiceEvent.starts_at > now))):
        await events.cancel(session, settings, user, event_id, now)
    await session.execute(delete(PartyMember).where(PartyMember.user_id == user.id))
    await session.execute(update(Case).where(Case.resident_id == user.id).values(
        description=ERASED_TEXT, latitude=None, longitude=None, authorisation=None))
    await session.execute(update(CaseEvent).where(CaseEvent.actor_id == user.id, CaseEvent.note.is_not(None))
                          .values(note=ERASED_TEXT))
    await session.execute(update(CaseAttachment).where(CaseAttachment.uploaded_by_id == user.id).values(
        file_id=None, file_unique_id=None, file_name=None, caption=None, latitude=None, longitude=None))
    await session.execute(update(CaseRating).where(CaseRating.resident_id == user.id).values(comment=None))
    await session.execute(delete(CaseFollower).where(CaseFollower.user_id == user.id))
    # The household stays on the ledger (the grid still visits it), no longer tied to them.
    await session.execute(update(Household).where(Household.resident_id == user.id).values(resident_id=None))
    # Messages to them: those not yet sent are not sent; no text is kept.
    await session.execute(update(OutboxMessage).where(
        OutboxMessage.user_id == user.id,
        OutboxMessage.status.in_((OutboxStatus.pending, OutboxStatus.claimed))).values(
        status=OutboxStatus.cancelled, last_error="recipient erased their data"))
    # Their chat id is their Telegram id.  A message in flight right now fails
    # if it is resent (to chat 0, without text): it is not sent twice either way.
    await session.execute(update(OutboxMessage).where(OutboxMessage.user_id == user.id).values(
        payload={}, chat_id=0))
    if telegram_id is not None:
        # Raw updates from them: their private chat's, and those elsewhere that
        # name them as the sender (a user object begins with its id).  Updates
        # still waiting to be handled keep theirs until then (retention purges them).
        await session.execute(update(InboundUpdate).where(
            or_(InboundUpdate.status != InboundStatus.pending, InboundUpdate.id == (current_update or 0)),
            or_(InboundUpdate.chat_id == telegram_id,
                InboundUpdate.payload.contains(f'{{"id":{telegram_id},'),
                InboundUpdate.payload.contains(f'{{"id": {telegram_id},'))).values(payload="{}", chat_id=None))
    user.telegram_id = None
    user.first_name, user.last_name, user.username, user.phone = "", None, None, None
    user.building_id = user.grid_id = user.unit = None
    user.registered_at = user.privacy_consent_at = None
