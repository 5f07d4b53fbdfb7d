"""Turning domain results and errors into localized text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n.lazy_proxy import LazyProxy

from bot.services.errors import DomainError
from bot.services.escape import esc  # noqa: F401  (the one escape, for the handlers)
from models import Role

# A room's texts for its error codes: a lazy text, filled with the error's parameters by name
# ({limit}, {number}...), or, for a text built of parts, a function of the parameters.
ErrorTexts = Mapping[str, LazyProxy | Callable[[dict[str, Any]], str]]


class _Params(dict[str, Any]):
    """An error's parameters for str.format_map: a parameter the error lacks shows empty."""

    def __missing__(self, key: str) -> str:
        return ""


def coded_text(err: DomainError, texts: ErrorTexts) -> str | None:
    """The text for ``err.code`` in a room's table (in the current language), or None when
    the code is not in it."""
    entry = texts.get(err.code)
    if entry is None:
        return None
    if isinstance(entry, LazyProxy):
        return str(entry).format_map(_Params(err.params))
    return entry(err.params)


# The texts of the error codes several rooms share (registration, invites, broadcasts, home claims).
GENERAL_ERRORS: ErrorTexts = {
    "invite_unknown": __("This invitation link is not valid. Please ask for a new one."),
    "invite_used": __("This invitation link has already been used. Each link works once."),
    "invite_expired": __("This invitation link has expired. Please ask for a new one."),
    "query_too_long": __("That is too long to search for. Please type a few characters of the name."),
    "not_own_contact": __("Please share your own phone number with the button below."),
    "bad_phone": __("That phone number does not look right."),
    "bad_location": __("That location is not valid."),
    "bad_locale": __("That language is not available."),
    "community": __("That community is no longer available. Please choose again."),
    "grid": __("That grid is no longer available. Please choose again."),
    "building": __("That building is no longer available. Please choose again."),
    "not_allowed": __("You are not allowed to do that."),
    "person": __("That person holds no role you can remove."),
    "privacy_consent_needed": __("Please read the privacy notice and tap “I agree” first: write to me anything to "
                                 "see it."),
    "erase_has_role": __("You hold a role in the grid service. Please ask your administrator to remove it "
                         "before your data can be erased."),
    # Broadcasts (bot/services/broadcasts/notices.py)
    "broadcast_empty": __("The notice is empty. Please send a text, a photo or a document."),
    "broadcast_too_long": __("The notice is too long: at most {limit} characters."),
    "broadcast_one_attachment": __("Please send one photo or one document, not both."),
    "schedule_format": __("Please write the time like 2026-12-01 09:00."),
    "schedule_past": __("That time has already passed. Please choose a later time."),
    "schedule_too_far": __("Please choose a time within the next {days} days."),
    "no_recipients": __("Nobody in that group can receive it on Telegram."),
    "broadcast_not_running": __("This notice is not being sent right now."),
    "broadcast_not_paused": __("This notice is not paused."),
    "broadcast_finished": __("This notice has already finished."),
    "broadcast": __("That notice no longer exists."),
    "stale_button": __("This button is no longer valid."),
    # Home claims (bot/services/homes.py)
    "claim": __("That resident is not waiting for you to confirm their building."),
    "claim_settled": __("That resident's building has already been confirmed."),
    "own_home": __("Someone else of your grid confirms your own building."),
}


def role_label(role: Role) -> str:
    return {
        Role.worker: _("grid worker"),
        Role.grid_head: _("grid head"),
        Role.staff: _("community staff"),
        Role.department: _("department officer"),
        Role.admin: _("district administrator"),
        Role.building_head: _("building head"),
        Role.unit_head: _("unit head"),
        Role.volunteer: _("volunteer"),
    }[role]


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
