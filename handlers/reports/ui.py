"""Texts of the staff reports that other rooms need too (the refusal path's error codes)."""

from __future__ import annotations

from typing import Any

from aiogram.utils.i18n import gettext as _

from bot.services.errors import DomainError


def error_text(err: DomainError) -> str | None:
    """The text for a report error code, or None when the code is not the reports'."""
    p: dict[str, Any] = err.params
    messages = {
        "report_scope": lambda: _("That report is not available to you."),
        "report_period": lambda: _("That period is not available. Please choose again."),
        "report_dates_format": lambda: _("Please type two dates like 2026-11-01 2026-11-15."),
        "report_dates_order": lambda: _("The first date must not be after the second."),
        "report_dates_future": lambda: _("That period has not started yet."),
        "report_dates_too_long": lambda: _("A report covers at most {days} days.").format(days=p.get("days", "")),
    }
    make = messages.get(err.code)
    return make() if make else None
