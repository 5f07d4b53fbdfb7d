"""The service days' buttons, conversation state and error texts."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.utils.i18n import lazy_gettext as __

from bot.services.bounds import OptId
from bot.services.events import EVENT_CB
from handlers.render import ErrorTexts


class EventCb(CallbackData, prefix=EVENT_CB):
    """``view``, ``join``, ``leave``, ``att`` (id: the event); ``new`` (id: the community);
    ``aud`` (arg: the audience's index); ``here`` (id: the sign-up, arg: 1 came, 2 did not)."""

    action: str
    id: OptId = 0
    arg: OptId = 0


class EventForm(StatesGroup):
    text = State()  # data: community
    audience = State()  # data: community, the draft


# The texts of the service-day error codes (handlers.refusal asks every room's table).
ERRORS: ErrorTexts = {
    "event": __("That event is not available."),
    "event_form": __("Please send four or five lines: title; date and time (2026-12-20 09:00); place; "
                     "number of seats; volunteer hours (optional, 2)."),
    "event_too_long": __("The title and the place may have up to {limit} characters."),
    "event_when": __("The date and time should look like 2026-12-20 09:00."),
    "event_past": __("That time has already passed."),
    "event_too_far": __("That is more than a year ahead."),
    "event_number": __("Seats and hours are whole numbers from 1 to {limit}."),
    "event_closed": __("Sign-up for this event is closed."),
    "event_already": __("You are already signed up."),
    "event_not_signed": __("You are not signed up for this event."),
    "event_not_started": __("Attendance can be marked once the event has started."),
}

