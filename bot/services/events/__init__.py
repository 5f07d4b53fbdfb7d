"""Service days and project services (志愿服务日, free clinics, policy talks):
announced by community staff, signed up to by residents and volunteers, with
a waiting list, reminders, attendance and volunteer hours (docs/org.md).

    service   announcing, signing up and cancelling (the seat lock), cards, attendance
    figures   events held, attendance, volunteer hours (the reports)
    jobs      the reminders a day before (registered by bot.jobs.load_jobs)
"""

from __future__ import annotations

from bot.services.events.figures import EventFigures, event_figures, event_figures_by_community
from bot.services.events.service import (
    EVENT_CB,
    Attendee,
    Draft,
    EventCard,
    announce,
    attendees,
    cancel,
    card,
    event_cb,
    managed_communities,
    mark,
    parse_draft,
    sign_up,
    upcoming,
    volunteer_hours,
)

__all__ = [
    "EVENT_CB", "Attendee", "Draft", "EventCard", "EventFigures", "announce", "attendees", "cancel", "card",
    "event_cb", "event_figures", "event_figures_by_community", "managed_communities", "mark", "parse_draft",
    "sign_up", "upcoming", "volunteer_hours",
]
