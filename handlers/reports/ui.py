"""Texts of the staff reports that other rooms need too (the refusal path's error codes)."""

from __future__ import annotations

from aiogram.utils.i18n import lazy_gettext as __

from handlers.render import ErrorTexts

# The texts of the report error codes (handlers.refusal asks every room's table).
ERRORS: ErrorTexts = {
    "report_scope": __("That report is not available to you."),
    "report_period": __("That period is not available. Please choose again."),
    "report_dates_format": __("Please type two dates like 2026-11-01 2026-11-15."),
    "report_dates_order": __("The first date must not be after the second."),
    "report_dates_future": __("That period has not started yet."),
    "report_dates_too_long": __("A report covers at most {days} days."),
}

