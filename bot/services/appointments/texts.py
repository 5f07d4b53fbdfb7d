"""Words and formats for appointments, shared by the handlers (aiogram's
``gettext``) and the notifications the services write (one translator per
recipient, :func:`bot.services.l10n.translator`).  Every function takes the
reader's translation function ``_``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot.services.l10n import Translate, Translator
from models import AppointmentStatus, CancelReason


def weekday_name(_: Translate, d: date) -> str:
    return (_("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat"), _("Sun"))[d.weekday()]


def day_label(_: Translate, d: date, today: date | None = None) -> str:
    """``Tue 12/1``; ``Today`` / ``Tomorrow`` in front when it is."""
    text = _("{weekday} {month}/{day}").format(weekday=weekday_name(_, d), month=d.month, day=d.day)
    if today is not None:
        delta = (d - today).days
        if delta == 0:
            return _("Today, {date}").format(date=text)
        if delta == 1:
            return _("Tomorrow, {date}").format(date=text)
    return text


def clock(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def when_label(_: Translate, starts_at: datetime, tz: ZoneInfo, today: date | None = None) -> str:
    """``Tue 12/1 09:00``."""
    local = starts_at.astimezone(tz)
    return _("{date} at {time}").format(date=day_label(_, local.date(), today), time=local.strftime("%H:%M"))


def status_label(_: Translator, status: AppointmentStatus, reason: CancelReason | None = None) -> str:
    if status == AppointmentStatus.cancelled:
        return {
            CancelReason.closure: _("cancelled: the station is closed that day"),
            CancelReason.holiday: _("cancelled: public holiday"),
        }.get(reason, _("cancelled")) if reason else _("cancelled")
    return {
        AppointmentStatus.booked: _("booked"),
        AppointmentStatus.attended: _("attended"),
        AppointmentStatus.no_show: _.pgettext("appointment", "missed"),  # a no-show (爽约), not a missed target
    }[status]


def status_icon(status: AppointmentStatus) -> str:
    return {AppointmentStatus.booked: "🕒", AppointmentStatus.attended: "✅",
            AppointmentStatus.no_show: "❌", AppointmentStatus.cancelled: "🚫"}[status]


def seats_left(_: Translate, n: int) -> str:
    return _("1 seat left") if n == 1 else _("{n} seats left").format(n=n)


def mask_phone(phone: str | None) -> str:
    """``+8613912345678`` -> ``+86139****5678``: enough to recognise, not to call."""
    if not phone:
        return ""
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= 4:
        return "*" * len(digits)
    keep_tail = 4
    keep_head = min(5, max(0, len(digits) - keep_tail - 4))
    masked = digits[:keep_head] + "*" * (len(digits) - keep_head - keep_tail) + digits[-keep_tail:]
    return ("+" if phone.strip().startswith("+") else "") + masked
