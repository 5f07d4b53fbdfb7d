"""The service days' buttons, conversation state and error texts."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.utils.i18n import gettext as _

from bot.services.bounds import OptId
from bot.services.errors import DomainError
from bot.services.events import EVENT_CB


class EventCb(CallbackData, prefix=EVENT_CB):
    """``view``, ``join``, ``leave``, ``att`` (id: the event); ``new`` (id: the community);
    ``aud`` (arg: the audience's index); ``here`` (id: the sign-up, arg: 1 came, 2 did not)."""

    action: str
    id: OptId = 0
    arg: OptId = 0


class EventForm(StatesGroup):
    text = State()  # data: community
    audience = State()  # data: community, the draft


def error_text(err: DomainError) -> str | None:
    """The text for a service-day error code, or None when the code is not ours."""
    limit = err.params.get("limit", "")
    messages = {
        "event": lambda: _("That event is not available."),
        "event_form": lambda: _("Please send four or five lines: title; date and time (2026-12-20 09:00); place; "
                                "number of seats; volunteer hours (optional, 2)."),
        "event_too_long": lambda: _("The title and the place may have up to {limit} characters.").format(
            limit=limit),
        "event_when": lambda: _("The date and time should look like 2026-12-20 09:00."),
        "event_past": lambda: _("That time has already passed."),
        "event_too_far": lambda: _("That is more than a year ahead."),
        "event_number": lambda: _("Seats and hours are whole numbers from 1 to {limit}.").format(limit=limit),
        "event_closed": lambda: _("Sign-up for this event is closed."),
        "event_already": lambda: _("You are already signed up."),
        "event_not_signed": lambda: _("You are not signed up for this event."),
        "event_not_started": lambda: _("Attendance can be marked once the event has started."),
    }
    text = messages.get(err.code)
    return text() if text is not None else None
