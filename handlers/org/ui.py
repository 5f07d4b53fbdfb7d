"""The organisation rooms' buttons, conversation states and error texts."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.utils.i18n import gettext as _

from bot.services.bounds import OptId
from bot.services.cases import ERRAND_CB
from bot.services.errors import DomainError


class OrgCb(CallbackData, prefix="og"):
    """A head's or a worker's organisation action: ``file`` (choose a neighbour), ``fnew``,
    ``fp`` (id: the neighbour), ``vo0``/``vo1`` (id: the case; offer it to volunteers without / with the phone)."""

    action: str
    id: OptId = 0


class ErrandCb(CallbackData, prefix=ERRAND_CB):
    """A volunteer on an errand offer: ``take``, ``view``, ``done`` (id: the offer)."""

    action: str
    id: OptId = 0


class FileFor(StatesGroup):
    name = State()  # a head types a new neighbour's name
    phone = State()  # data: name
    text = State()  # data: resident (the neighbour's id)


def error_text(err: DomainError) -> str | None:
    """The text for an organisation error code, or None when the code is not ours."""
    number = str(err.params.get("number", ""))
    messages = {
        "errand": lambda: _("That errand is not available."),
        "errand_offered": lambda: _("Errand {number} has already been offered to the volunteers.").format(
            number=number),
        "no_volunteers": lambda: _("The community has no volunteers on the bot yet."),
        "errand_taken": lambda: _("Another volunteer has already taken errand {number}. Thank you!").format(
            number=number),
        "errand_yours": lambda: _("Errand {number} is already yours.").format(number=number),
        "errand_gone": lambda: _("Errand {number} no longer needs a volunteer.").format(number=number),
        "errand_done": lambda: _("You have already said errand {number} is done.").format(number=number),
    }
    text = messages.get(err.code)
    return text() if text is not None else None
