"""Patrols: start (a button, or a live location), the patrol keyboard, end,
where the worker is, and a note following the worker's edit of its message."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import diary
from bot.services.errors import DomainError, InvalidInput, NotFound
from handlers.common import show_menu
from handlers.diary import ui
from handlers.diary.panel import panel_view
from handlers.diary.shared import FieldWorker, callbacks, error_for, show
from handlers.diary.ui import DiaryCb, button, markup
from models import Patrol, User, i18n_name, utcnow


def _started_text(patrol: Patrol, settings: Settings, created: bool) -> str:
    if not created:
        return _("🚶 You are on patrol since {time}. The patrol buttons are below.").format(
            time=ui.hm(patrol.started_at, settings.tz))
    return _("▶️ Patrol started at {time}.\n"
             "Tap 🏠 Visit, 💬 Opinion or ⚠️ Problem for an entry, or just send text, photos, voice messages or "
             "your location: each becomes a note you can tag later. Tap ⏹ End patrol when you are done.\n"
             "Optional: share your live location (📎 → Location → Share live location) and I will note where "
             "problems are.").format(time=ui.hm(patrol.started_at, settings.tz))


async def start_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    now = utcnow()
    try:
        patrol, created = await diary.start_patrol(session, settings, user, now, grid_id=callback_data.id or None)
    except InvalidInput as err:
        if err.code != "choose_grid":
            raise
        # A worker of several grids: the question comes with the grids to choose from, not as a refusal.
        grids = await diary.patrol_grids(session, user)
        await query.answer()
        await show(query, error_for(err), markup([
            [button(i18n_name(g.names, i18n.current_locale, g.code), "start", g.id)] for g in grids]))
        return
    await session.commit()
    await state.clear()
    await query.answer(_("Patrol started") if created else _("You are already on patrol"))
    if isinstance(query.message, Message):
        await _refresh_panel(query, session, settings, user, i18n)
        await query.message.answer(_started_text(patrol, settings, created), reply_markup=ui.patrol_keyboard())


async def _refresh_panel(query: CallbackQuery, session: AsyncSession, settings: Settings, user: User,
                         i18n: PoI18n) -> None:
    """The message the button was on (the panel, or the grids to choose from) shows the
    panel as it now is, rather than "Not on patrol" above a patrol just started."""
    text, kb = await panel_view(session, settings, user, i18n.current_locale)
    await show(query, text, kb)


async def keyboard_cb(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    patrol = await diary.open_patrol(session, settings, user, utcnow())
    if patrol is None:
        raise NotFound("no_patrol")
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_started_text(patrol, settings, False), reply_markup=ui.patrol_keyboard())


async def _end(session: AsyncSession, settings: Settings, user: User, state: FSMContext,
               locale: str) -> tuple[str, InlineKeyboardMarkup | None]:
    summary = await diary.end_patrol(session, settings, user, utcnow(), locale)
    await session.commit()
    await state.clear()
    rows = [[button(f"📝 {i + 1}", "e", entry_id) for i, entry_id in enumerate(summary.note_ids[:10])]]
    return ui.summary_text(summary, settings.tz), markup(rows) if summary.note_ids else None


async def end_label(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                    i18n: PoI18n) -> None:
    try:
        text, kb = await _end(session, settings, user, state, i18n.current_locale)
    except DomainError as err:
        # Refused or not, ⏹ End patrol leaves the patrol keyboard: the main menu comes back either way.
        await message.answer(error_for(err))
        await show_menu(message, user)
        return
    await message.answer(text, reply_markup=kb)
    await show_menu(message, user)


async def end_cb(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                 i18n: PoI18n) -> None:
    text, kb = await _end(session, settings, user, state, i18n.current_locale)
    await query.answer()
    if isinstance(query.message, Message):
        await _refresh_panel(query, session, settings, user, i18n)
        await query.message.answer(text, reply_markup=kb)
        await show_menu(query.message, user)


async def live_location(message: Message, session: AsyncSession, user: User, state: FSMContext,
                        settings: Settings) -> None:
    """A live location: where a patrol is (and, with none open, "start patrol" in one gesture)."""
    assert message.location is not None
    now, loc = utcnow(), message.location
    if await diary.open_patrol(session, settings, user, now) is not None:
        await diary.record_location(session, settings, user, loc.latitude, loc.longitude, now,
                                    live_period=loc.live_period)
        await session.commit()
        await message.answer(_("📍 Following your live location during this patrol."))
        return
    patrol, created = await diary.start_patrol(session, settings, user, now, latitude=loc.latitude,
                                               longitude=loc.longitude, live_period=loc.live_period)
    await session.commit()
    await state.clear()
    await message.answer(_started_text(patrol, settings, created), reply_markup=ui.patrol_keyboard())


async def location_moved(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    """A live location moving (an edited message): no answer, it comes every few seconds."""
    assert message.location is not None
    try:
        await diary.record_location(session, settings, user, message.location.latitude,
                                    message.location.longitude, utcnow())
    except DomainError:  # a bad position among many: dropped without a word
        return
    await session.commit()


async def note_edited(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    """The worker edited the message a note came from: the note follows (kept in its history)."""
    entry = await diary.entry_by_message(session, user, message.message_id)
    if entry is None or not message.text:
        return
    try:
        await diary.edit_entry(session, settings, user, entry.id, utcnow(), text=message.text)
    except DomainError as err:  # edited messages are outside the refusal path (it serves new messages)
        await message.answer(error_for(err))
        return
    await session.commit()
    await message.answer(_("✏️ Note updated (the first version stays in its history)."))


def create_router() -> Router:
    router = Router(name="diary.patrol")
    field = FieldWorker()
    router.message.register(end_label, field, F.text == ui.END)
    # A live location (or its moves): where the patrol is; none open: start one.
    router.message.register(live_location, field, F.location.live_period)
    router.edited_message.register(location_moved, field, F.location)
    router.edited_message.register(note_edited, field, F.text)
    callbacks(router, {"start": start_cb, "end": end_cb, "kb": keyboard_cb})
    return router
