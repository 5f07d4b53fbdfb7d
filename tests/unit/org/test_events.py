"""Service days: the staff's form, seats and the waiting list, who may sign up,
attendance and hours, reminders once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.services import events
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.events.jobs import send_reminders
from bot.services.privacy import erase_user
from models import (
    EventAudience,
    EventStatus,
    OutboxMessage,
    PartyMember,
    Role,
    SignupStatus,
    utcnow,
)
from tests.factories import make_district, make_user

SETTINGS = Settings(_env_file=None, BOT_TOKEN="123456789:TEST-token_for_emulator", QUIET_HOURS="")


async def _staff_and_residents(s, staff_id: int, *resident_ids: int):  # type: ignore[no-untyped-def]
    """A district; its first community, a staff member of it, and residents of its first building."""
    place = await make_district(s)
    c1, b1 = place.communities[0], place.buildings[0]
    staff = await make_user(s, staff_id, role=Role.staff, scope_id=c1.id)
    residents = [await make_user(s, telegram_id) for telegram_id in resident_ids]
    for r in residents:
        r.building_id, r.grid_id = b1.id, b1.grid_id
    return place, c1, staff, residents


def test_the_form_is_checked_line_by_line():
    now = utcnow()
    when = (now + timedelta(days=2)).astimezone(SETTINGS.tz).strftime("%Y-%m-%d %H:%M")
    draft = events.parse_draft(f"义诊\n{when}\n新站服务站\n30人\n", now, SETTINGS)
    assert (draft.title, draft.place, draft.capacity, draft.hours) == ("义诊", "新站服务站", 30, 2)
    assert events.parse_draft(f"义诊\n{when}\n站\n5\n4", now, SETTINGS).hours == 4
    past = (now - timedelta(days=1)).astimezone(SETTINGS.tz).strftime("%Y-%m-%d %H:%M")
    for text, code in ((f"义诊\n{when}\n站", "event_form"), ("义诊\nsoon\n站\n5", "event_when"),
                       (f"义诊\n{past}\n站\n5", "event_past"), (f"义诊\n{when}\n站\n0", "event_number"),
                       (f"义诊\n{when}\n站\n5\n99", "event_number"), ("x" * 201 + f"\n{when}\n站\n5", "event_too_long")):
        with pytest.raises(InvalidInput) as caught:
            events.parse_draft(text, now, SETTINGS)
        assert caught.value.code == code, text


async def test_seats_waiting_list_attendance_and_reminders(sessionmaker):
    now = utcnow()
    async with sessionmaker() as s:
        place, c1, staff, residents = await _staff_and_residents(s, 9501, 9510, 9511)
        volunteer = await make_user(s, 9520, role=Role.volunteer, scope_id=c1.id)
        outsider = await make_user(s, 9530, role=Role.volunteer, scope_id=place.communities[1].id)
        await s.flush()
        draft = events.Draft("志愿服务日", now + timedelta(hours=20), "新站", 2, 3)
        with pytest.raises(NotAllowed):
            await events.announce(s, SETTINGS, volunteer, c1.id, draft, EventAudience.both, now)
        event = await events.announce(s, SETTINGS, staff, c1.id, draft, EventAudience.both, now)
        assert await events.sign_up(s, residents[0], event.id, now) == SignupStatus.going
        assert await events.sign_up(s, volunteer, event.id, now) == SignupStatus.going
        assert await events.sign_up(s, residents[1], event.id, now) == SignupStatus.waiting
        with pytest.raises(Conflict):
            await events.sign_up(s, residents[1], event.id, now)
        with pytest.raises(NotAllowed):
            await events.sign_up(s, outsider, event.id, now)
        with pytest.raises(NotFound):
            await events.card(s, outsider, event.id, "en")
        card = await events.card(s, residents[1], event.id, "en")
        assert (card.going, card.waiting, card.mine, card.position) == (2, 1, SignupStatus.waiting, 1)
        # The resident with a seat cancels: the waiting one takes it.
        assert await events.cancel(s, SETTINGS, residents[0], event.id, now) is True
        assert (await events.card(s, residents[1], event.id, "en")).mine == SignupStatus.going
        with pytest.raises(Conflict):
            await events.cancel(s, SETTINGS, residents[0], event.id, now)
        # Reminders a day before: once per person with a seat.
        assert await send_reminders(s, SETTINGS, now) == 2
        assert await send_reminders(s, SETTINGS, now) == 0
        # Attendance: not before the start; a volunteer who came is credited the hours.
        people = await events.attendees(s, staff, event.id)
        with pytest.raises(Conflict):
            await events.mark(s, SETTINGS, staff, people[0].signup_id, True, now)
        later = now + timedelta(hours=21)
        for p in people:
            await events.mark(s, SETTINGS, staff, p.signup_id, True, later)
        await events.mark(s, SETTINGS, staff, next(p for p in people if p.volunteer).signup_id, True, later)  # twice
        with pytest.raises(NotFound):
            await events.mark(s, SETTINGS, volunteer, people[0].signup_id, False, later)
        # The volunteer who came is told the hours credited, once; the resident is credited none.
        thanks = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("ev:%:hours:%"))))
        assert [(m.user_id, "3" in m.payload["text"]) for m in thanks] == [(volunteer.id, True)]
        assert event.status == EventStatus.held
        figures = await events.event_figures(s, [c1.id], now - timedelta(days=1), now + timedelta(days=2))
        assert (figures.held, figures.signed_up, figures.attended, figures.volunteer_hours) == (1, 2, 2, 3)
        with pytest.raises(Conflict):  # started: no more sign-ups
            await events.sign_up(s, residents[0], event.id, later)


async def test_a_volunteers_only_event_refuses_residents(sessionmaker):
    now = utcnow()
    async with sessionmaker() as s:
        _place, c1, staff, (resident,) = await _staff_and_residents(s, 9601, 9602)
        await s.flush()
        event = await events.announce(s, SETTINGS, staff, c1.id, events.Draft("清扫", now + timedelta(days=2), "楼下",
                                                                              5, 2), EventAudience.volunteers, now)
        with pytest.raises(NotAllowed):
            await events.sign_up(s, resident, event.id, now)
        with pytest.raises(NotFound):
            await events.sign_up(s, resident, 2**63, now)


async def test_erasing_a_person_gives_up_their_seat_and_party_record(sessionmaker):
    now = utcnow()
    async with sessionmaker() as s:
        _place, c1, staff, (leaving, waiting) = await _staff_and_residents(s, 9701, 9702, 9703)
        s.add(PartyMember(user_id=leaving.id, central_household=True, updated_at=now))
        await s.flush()
        event = await events.announce(s, SETTINGS, staff, c1.id, events.Draft("义诊", now + timedelta(days=2), "站",
                                                                              1, 2), EventAudience.residents, now)
        await events.sign_up(s, leaving, event.id, now)
        await events.sign_up(s, waiting, event.id, now)
        await erase_user(s, SETTINGS, leaving, now)
        assert (await events.card(s, waiting, event.id, "en")).mine == SignupStatus.going
        assert await s.get(PartyMember, leaving.id) is None and leaving.unit is None
