"""What the consultation handlers share: callback data, conversation states and
the feature's error texts (asked by handlers.refusal)."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import lazy_gettext as __

from bot.services.bounds import OptId
from bot.services.consultations import CQ_CB
from handlers.render import ErrorTexts


class CqCb(CallbackData, prefix=CQ_CB):
    """A consultation button: ``a`` answer (arg: the choice), ``w`` write an open answer,
    ``res`` results; the asker's steps ``new``, ``kind`` (arg 1: choices), ``close``
    (arg: days), ``send``, ``drop``.  The services check every one."""

    action: str
    id: OptId = 0
    arg: OptId = 0


class CqScopeCb(CallbackData, prefix="cqs"):
    """The asker opens (``pick=0``) or chooses (``pick=1``) a scope."""

    type: str
    id: OptId
    pick: OptId = 0


class ConsultForm(StatesGroup):
    question = State()
    choices = State()
    closes = State()
    confirm = State()


class ConsultAnswer(StatesGroup):
    text = State()  # data: cq (the consultation)


def btn(text: str, data: CallbackData) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=text, callback_data=data.pack())]


def kb(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=rows)


# The texts of the consultation error codes (handlers.refusal asks every room's table).
ERRORS: ErrorTexts = {
    "consult": __("That consultation is not available to you."),
    "consult_closed": __("This consultation is closed: answers are no longer taken."),
    "consult_no_choice": __("That answer is not one of the choices."),
    "consult_scope": __("Please choose a community, a grid or a building."),
    "consult_choices": __("Please type {low} to {high} choices, one per line."),
    "consult_choice_long": __("Each choice is a button: at most {limit} characters."),
    "consult_choice_twice": __("Two choices are the same. Please make each one different."),
    "consult_close_soon": __("Please give residents at least an hour to answer."),
    "consult_close_far": __("Please close it within {days} days."),
}

