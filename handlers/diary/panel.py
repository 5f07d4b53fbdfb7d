"""The diary's panel: 📒 Patrol diary, the /diary command and the panel button
of the diary's notifications."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import diary
from bot.services.access import is_field_worker
from bot.services.dates import parse_date
from handlers.diary import ui
from handlers.diary.shared import callbacks, show, today
from handlers.diary.ui import button, markup
from handlers.diary.views import day_screen
from handlers.keyboards import with_nav
from models import EntryKind, User, utcnow


async def panel_view(session: AsyncSession, settings: Settings, user: User,
                     locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """The panel as it stands now (its patrol line and buttons follow a patrol started or ended)."""
    now, day = utcnow(), today(settings)
    scopes = await diary.scopes(session, user, locale)
    lines = [_("📒 <b>Patrol diary</b> · {day}").format(day=day.isoformat())]
    rows: list[list[InlineKeyboardButton]] = []
    if scopes.own:
        patrol = await diary.open_patrol(session, settings, user, now)
        if patrol is not None:
            lines.append(_("🚶 On patrol since {time} ({duration}).").format(
                time=ui.hm(patrol.started_at, settings.tz),
                duration=diary.texts.duration(_, int((now - patrol.started_at).total_seconds() // 60))))
            rows.append([button(_("⏹ End patrol"), "end")])
            rows.append([button(_("⌨️ Show the patrol buttons"), "kb")])
        else:
            lines.append(_("Not on patrol."))
            rows.append([button(_("▶️ Start patrol"), "start")])
        view = await diary.day(session, settings, user, user.id, day, locale)
        counts = {k: sum(1 for e in view.entries if e.kind == k and not e.deleted) for k in EntryKind}
        lines.append(_("Today: {line}").format(line=" · ".join(
            f"{diary.texts.KIND_ICONS[k]} {counts[k]}" for k in EntryKind)))
        rows.append([button(_("🏠 Visit"), "new", arg="visit"), button(_("💬 Opinion"), "new", arg="opinion"),
                     button(_("⚠️ Problem"), "new", arg="problem")])
        rows.append([button(_("📖 Today's diary"), "day", user.id, arg=day.isoformat()),
                     button(_("📊 My month"), "mon", user.id, arg=day.strftime("%Y-%m"))])
        due = await diary.due_households(session, settings, user, day, locale)
        rows.append([button(_("⏰ Households due ({count})").format(count=len(due)), "due")])
        for grid_id in scopes.ledgers:
            rows.append([button(_("📚 Household ledger"), "lg", grid_id)])
    for grid in scopes.grids:
        rows.append([button(_("👥 {grid}: diaries").format(grid=grid.name), "grid", grid.id, arg=day.isoformat())])
    for community in scopes.communities:
        rows.append([button(_("🏘️ {community}: diaries").format(community=community.name), "com", community.id,
                            arg=day.isoformat())])
    if not (scopes.own or scopes.grids or scopes.communities):
        lines.append(_("The patrol diary is for grid workers, grid heads and community staff."))
    return "\n".join(lines), with_nav(markup(rows))


async def panel(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                i18n: PoI18n) -> None:
    await state.clear()
    text, kb = await panel_view(session, settings, user, i18n.current_locale)
    await message.answer(text, reply_markup=kb)


async def panel_cb(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings,
                   i18n: PoI18n) -> None:
    text, kb = await panel_view(session, settings, user, i18n.current_locale)
    await query.answer()
    await show(query, text, kb, edit=False)


async def diary_command(message: Message, command: CommandObject, session: AsyncSession, user: User,
                        state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    """/diary: today's diary; /diary 11-20: that day; someone without a diary of their own gets the panel."""
    day = today(settings)
    if command.args:
        day = parse_date(command.args, day, no_future=True)
    if not is_field_worker(user):
        await panel(message, session, user, state, settings, i18n)
        return
    await state.clear()
    text, kb = await day_screen(session, settings, user, user.id, day, 0, i18n.current_locale)
    await message.answer(text, reply_markup=kb)


def create_router() -> Router:
    router = Router(name="diary.panel")
    router.message.register(panel, F.text == ui.DIARY)
    router.message.register(diary_command, Command("diary"))
    callbacks(router, {"panel": panel_cb})
    return router
