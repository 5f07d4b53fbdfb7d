"""The skeleton the case handlers share, once.

A handler calls a service; a ``DomainError`` it raises goes to the one
refusal path (:mod:`handlers.refusal`: rolled back, answered, the update
marked handled).  What follows success is always one of a few moves: answer
the press and show the next step (:func:`pressed`), start a conversation
(:func:`ask`), or end it at the menu (:func:`finish`).  A conversation that a
refusal must end, rather than keep for another try, uses :func:`drop`;
:func:`conclude` does both for a conversation's last typed answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Collection
from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, ReplyKeyboardMarkup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.errors import DomainError
from handlers.common import show_menu
from handlers.refusal import error_text
from models import User

# Refusals of what was typed: the conversation stays for another try (the refusal path answers).
RETYPE = frozenset({"empty_text", "text_too_long"})


async def pressed(query: CallbackQuery, session: AsyncSession, text: str | None = None, *,
                  alert: bool = False) -> Message | None:
    """Commit what the press did and answer it (``text`` as a toast, or an alert);
    the message it came from, to show the next step on (None when Telegram gave none)."""
    await session.commit()
    await query.answer(text, show_alert=alert)
    return query.message if isinstance(query.message, Message) else None


async def ask(query: CallbackQuery, state: FSMContext, step: State, prompt: str, *,
              data: dict[str, Any] | None = None, more: dict[str, Any] | None = None,
              markup: InlineKeyboardMarkup | ReplyKeyboardMarkup | None = None) -> None:
    """A press starts a conversation: its state, its data (``data`` replaces,
    ``more`` adds), then the question."""
    await state.set_state(step)
    if data is not None:
        await state.set_data(data)
    if more:
        await state.update_data(**more)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(prompt, reply_markup=markup)


async def finish(message: Message, session: AsyncSession, user: User, state: FSMContext, text: str) -> None:
    """The conversation is done: commit, forget it, and back to the menu with ``text``."""
    await session.commit()
    await state.clear()
    await show_menu(message, user, text)


async def drop(message: Message, state: FSMContext, err: DomainError, user: User | None = None) -> None:
    """A refusal that ends the conversation (the case is gone, closed, not theirs...):
    say why and forget it; given ``user``, show the menu too."""
    await message.answer(error_text(err))
    await state.clear()
    if user is not None:
        await show_menu(message, user)


async def conclude(message: Message, session: AsyncSession, user: User, state: FSMContext,
                   work: Awaitable[Any], text: str, *, retype: Collection[str] = RETYPE) -> None:
    """The last typed answer of a conversation: await ``work`` (the service call), then
    :func:`finish` with ``text``.  A refusal in ``retype`` keeps the conversation for another
    try (the refusal path answers); any other ends it (:func:`drop`)."""
    try:
        await work
    except DomainError as err:
        if err.code in retype:
            raise
        await drop(message, state, err)
        return
    await finish(message, session, user, state, text)
