"""The organisation rooms' buttons, conversation states and error texts."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.utils.i18n import lazy_gettext as __

from bot.services.bounds import OptId
from bot.services.cases import ERRAND_CB
from handlers.render import ErrorTexts


class OrgCb(CallbackData, prefix="og"):
    """A head's or a worker's organisation action: ``file`` (choose a neighbour), ``fnew``,
    ``fp`` (id: the neighbour), ``fh`` (id: the new neighbour's home), ``vo0``/``vo1`` (id: the case; offer it to volunteers without / with the phone)."""

    action: str
    id: OptId = 0


class ErrandCb(CallbackData, prefix=ERRAND_CB):
    """A volunteer on an errand offer: ``take``, ``view``, ``done`` (id: the offer)."""

    action: str
    id: OptId = 0


class FileFor(StatesGroup):
    name = State()  # a head types a new neighbour's name
    phone = State()  # data: name
    home = State()  # data: name, phone (a head of several homes says where the neighbour lives)
    text = State()  # data: resident (the neighbour's id)


# The texts of the organisation error codes (handlers.refusal asks every room's table).
ERRORS: ErrorTexts = {
    "offline_home": __("Please tap where your neighbour lives."),
    "errand": __("That errand is not available."),
    "errand_offered": __("Errand {number} has already been offered to the volunteers."),
    "no_volunteers": __("The community has no volunteers on the bot yet."),
    "errand_taken": __("Another volunteer has already taken errand {number}. Thank you!"),
    "errand_yours": __("Errand {number} is already yours."),
    "errand_gone": __("Errand {number} no longer needs a volunteer."),
    "errand_done": __("You have already said errand {number} is done."),
}

