"""Answers to a button press that every audience's handlers share."""

from __future__ import annotations

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.services.errors import DomainError
from handlers.render import error_text


async def refuse(query: CallbackQuery, err: DomainError) -> None:
    """A refused press (not allowed, gone, too late): say why in an alert."""
    await query.answer(error_text(err), show_alert=True)


async def edit_in_place(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Edit the message the button was on; a double click changes nothing."""
    if not isinstance(query.message, Message):
        return
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        if "message is not modified" not in exc.message:
            raise
