"""What the family handlers share: callback data and the feature's error texts
(asked by handlers.refusal)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.utils.i18n import gettext as _

from bot.services.bounds import OptId
from bot.services.errors import DomainError
from bot.services.family import FAMILY_CB


class FamCb(CallbackData, prefix=FAMILY_CB):
    """Family buttons: ``inv`` a new link; the resident's ``ok`` / ``no`` (id: the link), ``on`` /
    ``off`` (their own copies); either side's ``end``; a delegate's ``help`` / ``rep`` (ask for
    help, report a problem), ``cases`` and ``appts`` for ``r`` (the resident).  Checked by the
    services: a forged ``id`` or ``r`` is refused there."""

    action: str
    id: OptId = 0
    r: OptId = 0


def error_text(err: DomainError) -> str | None:
    """The text for a family error code, or None when the code is not this room's."""
    messages = {
        "family_link": lambda: _("This family link is not valid. Please ask for a new one."),
        "family_link_used": lambda: _("This family link has already been used. Each link works once."),
        "family_link_expired": lambda: _("This family link has expired (links work for 24 hours). Please ask "
                                         "for a new one."),
        "family_self": lambda: _("This is your own family link: send it to your family member."),
        "family_already": lambda: _("You are already linked with this resident."),
        "family_limit": lambda: _("You can link at most {limit} family members. End a link first.").format(
            limit=err.params.get("limit", "")),
        "family_not_pending": lambda: _("This request has already been answered."),
        "family_ended": lambda: _("This family link has ended."),
        "family_not_linked": lambda: _("You cannot act for this person: they have not linked you, or the link "
                                       "has ended."),
        "family_resident_only": lambda: _("Please register your home first (send /start)."),
    }
    make = messages.get(err.code)
    return make() if make else None
