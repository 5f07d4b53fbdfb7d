"""What the family handlers share: callback data and the feature's error texts
(asked by handlers.refusal)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.utils.i18n import lazy_gettext as __
from pydantic import Field

from bot.services.bounds import OptId
from bot.services.family import FAMILY_CB
from handlers.render import ErrorTexts


class FamCb(CallbackData, prefix=FAMILY_CB):
    """Family buttons: ``inv`` a new link; the resident's ``ok`` / ``no`` (id: the link), ``on`` /
    ``off`` (their own copies); either side's ``end``; a delegate's ``help`` / ``rep`` (ask for
    help, report a problem), ``cases`` and ``appts`` for ``r`` (the resident).  Checked by the
    services: a forged ``id`` or ``r`` is refused there."""

    action: str
    id: OptId = 0
    r: OptId = 0


class FamJoinCb(CallbackData, prefix="fmj"):
    """"I agree" under the privacy notice shown to someone new who opened a family link: agreeing
    goes on with that link (``token``, as in the link; checked by the service like the link)."""

    token: str = Field(max_length=48)


# The texts of the family error codes (handlers.refusal asks every room's table).
ERRORS: ErrorTexts = {
    "family_link": __("This family link is not valid. Please ask for a new one."),
    "family_link_used": __("This family link has already been used. Each link works once."),
    "family_link_expired": __("This family link has expired (links work for 24 hours). Please ask "
                              "for a new one."),
    "family_self": __("This is your own family link: send it to your family member."),
    "family_already": __("You are already linked with this resident."),
    "family_limit": __("You can link at most {limit} family members. End a link first."),
    "family_not_pending": __("This request has already been answered."),
    "family_ended": __("This family link has ended."),
    "family_not_linked": __("You cannot act for this person: they have not linked you, or the link "
                            "has ended."),
    "family_resident_only": __("Please register your home first: 👤 My profile → 🏠 Change my building."),
}

