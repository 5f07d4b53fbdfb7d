"""What the consultation handlers share: callback data, conversation states and
the feature's error texts (asked by handlers.refusal)."""

from __future__ import annotations

from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from bot.services.bounds import OptId
from bot.services.consultations import CQ_CB
from bot.services.errors import DomainError


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


def error_text(err: DomainError) -> str | None:
    """The text for a consultation error code, or None when the code is not this room's."""
    p: dict[str, Any] = err.params
    messages = {
        "consult": lambda: _("That consultation is not available to you."),
        "consult_closed": lambda: _("This consultation is closed: answers are no longer taken."),
        "consult_no_choice": lambda: _("That answer is not one of the choices."),
        "consult_scope": lambda: _("Please choose a community, a grid or a building."),
        "consult_choices": lambda: _("Please type {low} to {high} choices, one per line.").format(
            low=p.get("low", ""), high=p.get("high", "")),
        "consult_choice_long": lambda: _("Each choice is a button: at most {limit} characters.").format(
            limit=p.get("limit", "")),
        "consult_choice_twice": lambda: _("Two choices are the same. Please make each one different."),
        "consult_close_soon": lambda: _("Please give residents at least an hour to answer."),
        "consult_close_far": lambda: _("Please close it within {days} days.").format(days=p.get("days", "")),
    }
    make = messages.get(err.code)
    return make() if make else None
