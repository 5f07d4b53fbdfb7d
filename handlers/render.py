"""Turning domain results and errors into localized text."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.services.errors import DomainError
from bot.services.escape import esc  # noqa: F401  (the one escape, for the handlers)
from models import Role


def general_error_text(err: DomainError) -> str | None:
    """The text for an error code shared by several rooms (registration, invites,
    broadcasts), or None; handlers.refusal.error_text asks each feature's too."""
    messages = {
        "invite_unknown": _("This invitation link is not valid. Please ask for a new one."),
        "invite_used": _("This invitation link has already been used. Each link works once."),
        "invite_expired": _("This invitation link has expired. Please ask for a new one."),
        "query_too_long": _("That is too long to search for. Please type a few characters of the name."),
        "not_own_contact": _("Please share your own phone number with the button below."),
        "bad_phone": _("That phone number does not look right."),
        "bad_location": _("That location is not valid."),
        "bad_locale": _("That language is not available."),
        "community": _("That community is no longer available. Please choose again."),
        "grid": _("That grid is no longer available. Please choose again."),
        "building": _("That building is no longer available. Please choose again."),
        "not_allowed": _("You are not allowed to do that."),
        "person": _("That person holds no role you can remove."),
        "privacy_consent_needed": _("Please read the privacy notice and tap “I agree” first: write to me anything to see it."),
        "erase_has_role": _("You hold a role in the grid service. Please ask your administrator to remove it "
                            "before your data can be erased."),
        # Broadcasts (bot/services/broadcasts/notices.py)
        "broadcast_empty": _("The notice is empty. Please send a text, a photo or a document."),
        "broadcast_too_long": _("The notice is too long: at most {limit} characters.").format(
            limit=err.params.get("limit", "")),
        "broadcast_one_attachment": _("Please send one photo or one document, not both."),
        "schedule_format": _("Please write the time like 2026-12-01 09:00."),
        "schedule_past": _("That time has already passed. Please choose a later time."),
        "schedule_too_far": _("Please choose a time within the next {days} days.").format(
            days=err.params.get("days", "")),
        "no_recipients": _("Nobody in that group can receive it on Telegram."),
        "broadcast_not_running": _("This notice is not being sent right now."),
        "broadcast_not_paused": _("This notice is not paused."),
        "broadcast_finished": _("This notice has already finished."),
        "broadcast": _("That notice no longer exists."),
        "stale_button": _("This button is no longer valid."),
        # Home claims (bot/services/homes.py)
        "claim": _("That resident is not waiting for you to confirm their building."),
        "claim_settled": _("That resident's building has already been confirmed."),
        "own_home": _("Someone else of your grid confirms your own building."),
    }
    return messages.get(err.code)


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
