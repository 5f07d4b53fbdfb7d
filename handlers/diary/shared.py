"""What the diary's handler modules share: the filters of its catch-alls, a
screen shown in place of the one a button was on, the message's text and
files, and the refusal texts for the handlers that recover on their own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import BaseFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, TelegramObject
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import diary
from bot.services.access import is_field_worker
from bot.services.dates import local_day
from bot.services.errors import DomainError
from handlers.diary import ui
from handlers.diary.ui import DiaryCb, DiaryStates
from handlers.filters import UserFilter
from handlers.labels import menu_labels
from handlers.refusal import error_text
from handlers.routing import on_press
from models import DiaryMediaKind, User, utcnow

FILE_KINDS = ("photo", "voice", "audio", "video", "video_note", "document")
BUILDINGS_PAGE = 8  # buildings per page of a picker

# ------------------------------------------------------------------ filters

class NotMenuLabel(BaseFilter):
    async def __call__(self, message: Message, i18n: PoI18n | None = None, **_: Any) -> bool:
        if message.text is None:
            return True
        if message.text.startswith("/"):
            return False
        return i18n is None or message.text.strip() not in menu_labels(i18n)


class OnPatrol(BaseFilter):
    """A grid worker with an open patrol; the patrol is passed on as ``patrol``."""

    async def __call__(self, event: TelegramObject, user: User | None = None, session: AsyncSession | None = None,
                       settings: Settings | None = None, **_: Any) -> bool | dict[str, Any]:
        if user is None or session is None or settings is None:
            return False
        patrol = await diary.open_patrol(session, settings, user, utcnow())
        return {"patrol": patrol} if patrol is not None else False


class FieldWorker(UserFilter):
    def allows(self, user: User | None) -> bool:
        return is_field_worker(user)


# ------------------------------------------------------------------ routers

def callbacks(router: Router, handlers: dict[str, Callable[..., Any]]) -> None:
    """Register each diary button's handler by its action (``DiaryCb.action``)."""
    on_press(router, DiaryCb, handlers)


# ------------------------------------------------------------------ helpers

def error_for(err: DomainError) -> str:
    """The refusal text, for a handler that answers it itself (the diary words
    some shared codes, such as ``empty_text`` or ``grid``, its own way)."""
    return error_text(err, ui.ERRORS)


async def retry_or_leave(message: Message, state: FSMContext, err: DomainError) -> None:
    """A typed answer refused: say why; an empty or too long text may be typed
    again (the question stays open), anything else ends the conversation."""
    await message.answer(error_for(err))
    if err.code not in ("empty_text", "text_too_long"):
        await state.clear()


def media_of(message: Message) -> list[diary.MediaRef]:
    if message.location is not None:
        return [diary.MediaRef(DiaryMediaKind.location, latitude=message.location.latitude,
                               longitude=message.location.longitude)]
    if message.photo:
        p = message.photo[-1]
        return [diary.MediaRef(DiaryMediaKind.photo, p.file_id, p.file_unique_id)]
    for kind in FILE_KINDS[1:]:
        f = getattr(message, kind)
        if f is not None:
            return [diary.MediaRef(DiaryMediaKind(kind), f.file_id, f.file_unique_id)]
    return []


def text_of(message: Message) -> str | None:
    return message.text if message.text is not None else message.caption


async def show(query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None, *,
               edit: bool = True) -> None:
    """Show ``text`` in place of the message the button was on (or below it)."""
    if not isinstance(query.message, Message):
        return
    if edit and query.message.text is not None:
        try:
            await query.message.edit_text(text, reply_markup=reply_markup)
            return
        except TelegramBadRequest as exc:
            if "message is not modified" in exc.message:
                return
    await query.message.answer(text, reply_markup=reply_markup)


async def answer_and_show(query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None, *,
                          edit: bool = True, note: str | None = None) -> None:
    """Close the button's spinner (with a short ``note``) and show the screen."""
    await query.answer(note)
    await show(query, text, reply_markup, edit=edit)


async def drop_buttons(query: CallbackQuery) -> None:
    """Take the buttons off the message a button was on (if it is still there)."""
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest:
            pass


async def compose(state: FSMContext, entry_id: int, now: datetime) -> None:
    """The next messages for a few minutes are added to the entry just started."""
    await state.set_state(DiaryStates.compose)
    await state.set_data({"entry": entry_id, "until": (now + timedelta(minutes=diary.COMPOSE_MINUTES)).isoformat()})


def today(settings: Settings) -> date:
    return local_day(utcnow(), settings.tz)
