"""Turning domain results and errors into localized text."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _

from bot.services.errors import DomainError
from models import Role


def error_text(err: DomainError) -> str:
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
        "stale_button": _("This button is no longer valid."),
    }
    return messages.get(err.code, _("That did not work. Please try again."))


def role_label(role: Role) -> str:
    return {
        Role.worker: _("grid worker"),
        Role.grid_head: _("grid head"),
        Role.staff: _("community staff"),
        Role.department: _("department officer"),
        Role.admin: _("district administrator"),
    }[role]


def esc(text: str | None) -> str:
    return html.escape(text or "")


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")
