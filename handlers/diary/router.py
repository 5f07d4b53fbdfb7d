"""The patrol diary (民情日志) in chat: grid workers log patrols, visits,
public-opinion items and problems in a few taps; grid heads and community
staff read their grids' diaries and keep the household ledger.

Speed first: during a patrol a reply keyboard gives one tap per kind of entry;
a visit is "building → household" (its category defaults to the household's
tag) or "building → unit → category"; an opinion is "topic"; a problem needs
no tap at all beyond its button.  Whatever follows (text, photo, voice,
location) is added to the entry just started for a few minutes.  Anything a
worker sends on patrol with no conversation going on is kept as a note, in
order, and can be tagged later.  Every press reaches a service that checks
who may do it (buttons can be forged).

This router sits right after ``common``: before the routers that take
locations or free messages (registration, case intake), but its catch-alls
only fire for a worker with an open patrol (:class:`OnPatrol`), outside any
conversation, and never for a menu label or a command.
"""

from __future__ import annotations

import re
import sys
from datetime import date, datetime, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import BaseFilter, Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import SUPPORTED_LOCALES, Settings
from bot.i18n import PoI18n
from bot.services.diary import cases as diary_cases
from bot.services.diary import entries as diary
from bot.services.diary import figures as diary_figures
from bot.services.diary import households as diary_households
from bot.services.diary import texts
from bot.services.diary import views as diary_views
from bot.services.diary.common import (
    COMPOSE_MINUTES,
    MediaRef,
    field_grid_ids,
    is_field_worker,
    local_day,
    require_field_worker,
)
from bot.services.diary.jobs import figures_line
from bot.services.errors import DomainError, InvalidInput, NotAllowed, NotFound
from handlers.diary import ui
from handlers.diary.ui import DiaryCb, DiaryStates, button, markup
from handlers.refusal import error_text
from handlers.render import esc
from models import CareTag, DiaryMediaKind, EntryKind, OpinionCategory, User, i18n_name, utcnow

PAGE = 8  # buildings per page
DAY_PAGE = 10  # entries per page of a day
FILE_KINDS = ("photo", "voice", "audio", "video", "video_note", "document")


# ------------------------------------------------------------------ filters

_label_cache: dict[int, frozenset[str]] = {}


def menu_labels(i18n: PoI18n) -> frozenset[str]:
    """Every reply-keyboard label of every handler module, in every language:
    a worker tapping a menu button is never taken for a note."""
    cached = _label_cache.get(id(i18n))
    if cached is not None:
        return cached
    from babel.support import LazyProxy

    msgids: set[str] = set()
    for name, module in list(sys.modules.items()):
        if name == "handlers" or name.startswith("handlers."):
            for value in list(vars(module).values()):
                if isinstance(value, LazyProxy):
                    args = object.__getattribute__(value, "_args")
                    if args and isinstance(args[0], str):
                        msgids.add(args[0])
    labels = frozenset(msgids | {i18n.gettext(m, locale=loc) for m in msgids for loc in SUPPORTED_LOCALES})
    _label_cache[id(i18n)] = labels
    return labels


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
        if user is None or session is None or settings is None or not is_field_worker(user):
            return False
        patrol = await diary.open_patrol(session, settings, user, utcnow())
        return {"patrol": patrol} if patrol is not None else False


class FieldWorker(BaseFilter):
    async def __call__(self, event: TelegramObject, user: User | None = None, **_: Any) -> bool:
        return is_field_worker(user)


# ------------------------------------------------------------------ helpers

def error_for(err: DomainError) -> str:
    """The diary words some shared codes (``empty_text``, ``grid``...) its own way."""
    return error_text(err, ui.error_text)


def media_of(message: Message) -> list[MediaRef]:
    if message.location is not None:
        return [MediaRef(DiaryMediaKind.location, latitude=message.location.latitude,
                         longitude=message.location.longitude)]
    if message.photo:
        p = message.photo[-1]
        return [MediaRef(DiaryMediaKind.photo, p.file_id, p.file_unique_id)]
    for kind in FILE_KINDS[1:]:
        f = getattr(message, kind)
        if f is not None:
            return [MediaRef(DiaryMediaKind(kind), f.file_id, f.file_unique_id)]
    return []


def text_of(message: Message) -> str | None:
    return message.text if message.text is not None else message.caption


async def _show(query: CallbackQuery, text: str, reply_markup: InlineKeyboardMarkup | None = None, *,
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


async def _refuse(query: CallbackQuery, err: DomainError) -> None:
    await query.answer(error_for(err), show_alert=True)


async def _compose(state: FSMContext, entry_id: int, now: datetime) -> None:
    await state.set_state(DiaryStates.compose)
    await state.set_data({"entry": entry_id, "until": (now + timedelta(minutes=COMPOSE_MINUTES)).isoformat()})


def _today(settings: Settings) -> date:
    return local_day(utcnow(), settings.tz)


# ------------------------------------------------------------------ the panel

async def _panel(session: AsyncSession, settings: Settings, user: User, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    now, today = utcnow(), _today(settings)
    scopes = await diary_views.scopes(session, user, locale)
    lines = [_("📒 <b>Patrol diary</b> · {day}").format(day=today.isoformat())]
    rows: list[list[InlineKeyboardButton]] = []
    if scopes.own:
        patrol = await diary.open_patrol(session, settings, user, now)
        if patrol is not None:
            lines.append(_("🚶 On patrol since {time} ({duration}).").format(
                time=ui.hm(patrol.started_at, settings.tz),
                duration=texts.duration(_, int((now - patrol.started_at).total_seconds() // 60))))
            rows.append([button(_("⏹ End patrol"), "end")])
            rows.append([button(_("⌨️ Show the patrol buttons"), "kb")])
        else:
            lines.append(_("Not on patrol."))
            rows.append([button(_("▶️ Start patrol"), "start")])
        day = await diary_views.day(session, settings, user, user.id, today, locale)
        counts = {k: sum(1 for e in day.entries if e.kind == k and not e.deleted) for k in EntryKind}
        lines.append(_("Today: {line}").format(line=" · ".join(
            f"{texts.KIND_ICONS[k]} {counts[k]}" for k in EntryKind)))
        rows.append([button(_("🏠 Visit"), "new", arg="visit"), button(_("💬 Opinion"), "new", arg="opinion"),
                     button(_("⚠️ Problem"), "new", arg="problem")])
        rows.append([button(_("📖 Today's diary"), "day", user.id, arg=today.isoformat()),
                     button(_("📊 My month"), "mon", user.id, arg=today.strftime("%Y-%m"))])
        due = await diary_households.due_households(session, settings, user, today, locale)
        rows.append([button(_("⏰ Households due ({count})").format(count=len(due)), "due")])
        for grid_id in sorted(field_grid_ids(user)):
            rows.append([button(_("📚 Household ledger"), "lg", grid_id)])
    for grid in scopes.grids:
        rows.append([button(_("👥 {grid}: diaries").format(grid=grid.name), "grid", grid.id, arg=today.isoformat())])
    for community in scopes.communities:
        rows.append([button(_("🏘️ {community}: diaries").format(community=community.name), "com", community.id,
                            arg=today.isoformat())])
    if not (scopes.own or scopes.grids or scopes.communities):
        lines.append(_("The patrol diary is for grid workers, grid heads and community staff."))
    return "\n".join(lines), markup(rows)


async def panel(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                i18n: PoI18n) -> None:
    await state.clear()
    text, kb = await _panel(session, settings, user, i18n.current_locale)
    await message.answer(text, reply_markup=kb)


async def panel_cb(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings,
                   i18n: PoI18n) -> None:
    text, kb = await _panel(session, settings, user, i18n.current_locale)
    await query.answer()
    await _show(query, text, kb, edit=False)


async def diary_command(message: Message, command: CommandObject, session: AsyncSession, user: User,
                        state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    """/diary: today's diary; /diary 11-20: that day; someone without a diary of their own gets the panel."""
    today = _today(settings)
    day = today
    if command.args:
        parsed = ui.parse_day(command.args, today)
        if parsed is None:
            await message.answer(_("Write the day like 11-20 or 2026-11-20 (not in the future)."))
            return
        day = parsed
    if not is_field_worker(user):
        await panel(message, session, user, state, settings, i18n)
        return
    await state.clear()
    text, kb = await _day(session, settings, user, user.id, day, 0, i18n.current_locale)
    await message.answer(text, reply_markup=kb)


# ------------------------------------------------------------------ patrols

async def start_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    now = utcnow()
    try:
        patrol, created = await diary.start_patrol(session, settings, user, now, grid_id=callback_data.id or None)
    except DomainError as err:
        if err.code == "choose_grid":
            grids = await diary.patrol_grids(session, user)
            await query.answer()
            await _show(query, error_for(err), markup([
                [button(i18n_name(g.names, i18n.current_locale, g.code), "start", g.id)] for g in grids]))
            return
        await _refuse(query, err)
        return
    await session.commit()
    await state.clear()
    await query.answer(_("Patrol started") if created else _("You are already on patrol"))
    if isinstance(query.message, Message):
        await query.message.answer(_started_text(patrol, settings, created), reply_markup=ui.patrol_keyboard())


def _started_text(patrol, settings: Settings, created: bool) -> str:  # type: ignore[no-untyped-def]
    if not created:
        return _("🚶 You are on patrol since {time}. The patrol buttons are below.").format(
            time=ui.hm(patrol.started_at, settings.tz))
    return _("▶️ Patrol started at {time}.\n"
             "Tap 🏠 Visit, 💬 Opinion or ⚠️ Problem for an entry, or just send text, photos, voice messages or "
             "your location: each becomes a note you can tag later. Tap ⏹ End patrol when you are done.\n"
             "Optional: share your live location (📎 → Location → Share live location) and I will note where "
             "problems are.").format(time=ui.hm(patrol.started_at, settings.tz))


async def keyboard_cb(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings) -> None:
    patrol = await diary.open_patrol(session, settings, user, utcnow())
    if patrol is None:
        await query.answer(error_for(DomainError("no_patrol")), show_alert=True)
        return
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
    from handlers.common import show_menu

    try:
        text, kb = await _end(session, settings, user, state, i18n.current_locale)
    except DomainError as err:
        await message.answer(error_for(err))
        await show_menu(message, user)
        return
    await message.answer(text, reply_markup=kb)
    await show_menu(message, user)


async def end_cb(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                 i18n: PoI18n) -> None:
    from handlers.common import show_menu

    try:
        text, kb = await _end(session, settings, user, state, i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(text, reply_markup=kb)
        await show_menu(query.message, user)


async def live_location(message: Message, session: AsyncSession, user: User, state: FSMContext,
                        settings: Settings) -> None:
    """A live location: where a patrol is (and, with none open, "start patrol" in one gesture)."""
    assert message.location is not None
    now, loc = utcnow(), message.location
    try:
        if await diary.open_patrol(session, settings, user, now) is not None:
            await diary.record_location(session, settings, user, loc.latitude, loc.longitude, now,
                                        live_period=loc.live_period)
            await session.commit()
            await message.answer(_("📍 Following your live location during this patrol."))
            return
        patrol, created = await diary.start_patrol(session, settings, user, now, latitude=loc.latitude,
                                                   longitude=loc.longitude, live_period=loc.live_period)
    except DomainError as err:
        await message.answer(error_for(err))
        return
    await session.commit()
    await state.clear()
    await message.answer(_started_text(patrol, settings, created), reply_markup=ui.patrol_keyboard())


async def location_moved(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    """A live location moving (an edited message): no answer, it comes every few seconds."""
    assert message.location is not None
    try:
        await diary.record_location(session, settings, user, message.location.latitude,
                                    message.location.longitude, utcnow())
    except DomainError:
        return
    await session.commit()


async def note_edited(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    """The worker edited the message a note came from: the note follows (kept in its history)."""
    entry = await diary.entry_by_message(session, user, message.message_id)
    if entry is None or not message.text:
        return
    try:
        await diary.edit_entry(session, settings, user, entry.id, utcnow(), text=message.text)
    except DomainError as err:
        await message.answer(error_for(err))
        return
    await session.commit()
    await message.answer(_("✏️ Note updated (the first version stays in its history)."))


# ------------------------------------------------------------------ loose notes and the entry being written

async def loose_note(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    now = utcnow()
    try:
        entry = await diary.add_note(session, settings, user, now, text=text_of(message), media=media_of(message),
                                     message_id=message.message_id)
    except DomainError as err:
        await message.answer(error_for(err))
        return
    await session.commit()
    await message.answer(
        _("📝 Note saved ({time}). Tag it now or later:").format(time=ui.hm(entry.occurred_at, settings.tz)),
        reply_markup=markup([[button(_("🏠 Visit"), "tag", entry.id, arg="visit"),
                              button(_("💬 Opinion"), "tag", entry.id, arg="opinion"),
                              button(_("⚠️ Problem"), "tag", entry.id, arg="problem")]]))


async def compose_add(message: Message, session: AsyncSession, user: User, state: FSMContext,
                      settings: Settings) -> None:
    """A message right after an entry was started is added to it."""
    now = utcnow()
    data = await state.get_data()
    until = data.get("until")
    if not data.get("entry") or until is None or datetime.fromisoformat(until) < now:
        await state.clear()
        if await diary.open_patrol(session, settings, user, now) is not None:
            await loose_note(message, session, user, settings)
        else:
            await message.answer(_("Please choose from the menu below, or send /help."))
        return
    try:
        entry = await diary.add_to_entry(session, settings, user, int(data["entry"]), now, text=text_of(message),
                                         media=media_of(message))
    except DomainError as err:
        await state.clear()
        await message.answer(error_for(err))
        return
    await session.commit()
    await state.update_data(until=(now + timedelta(minutes=COMPOSE_MINUTES)).isoformat())
    await message.answer(_("➕ Added to the {kind}.").format(kind=ui.kind_name(entry.kind)),
                         reply_markup=markup([[button(_("✅ Finish"), "done", entry.id)]]))


async def done_cb(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer(_("Saved"))
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest:
            pass


# ------------------------------------------------------------------ starting entries

async def _buildings(session: AsyncSession, settings: Settings, user: User, ref: int, page: int,
                     locale: str) -> tuple[str, InlineKeyboardMarkup]:
    now, today = utcnow(), _today(settings)
    patrol = await diary.open_patrol(session, settings, user, now)
    grids = [patrol.grid_id] if patrol is not None else sorted(field_grid_ids(user))
    lines = []
    for grid_id in grids:
        lines += await diary_households.grid_buildings(session, user, grid_id, today, locale,
                                                       first=patrol.current_building_id if patrol else None)
    pages = max(1, -(-len(lines) // PAGE))
    page = min(max(page, 0), pages - 1)
    rows = []
    for b in lines[page * PAGE:(page + 1) * PAGE]:
        extra = f" ⏰{b.due}" if b.due else ""
        rows.append([button(f"🏢 {b.name}{extra}", "vb", b.id, ref)])
    nav = []
    if page > 0:
        nav.append(button("◀️", "vbp", page - 1, ref))
    if pages > 1:
        nav.append(InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data="noop"))
    if page < pages - 1:
        nav.append(button("▶️", "vbp", page + 1, ref))
    rows.append(nav)
    return _("🏠 Visit: which building?"), markup(rows)


async def _start_visit(send, session: AsyncSession, settings: Settings, user: User, ref: int,  # type: ignore[no-untyped-def]
                       locale: str) -> None:
    text, kb = await _buildings(session, settings, user, ref, 0, locale)
    await send(text, reply_markup=kb)


def _opinion_topics(ref: int) -> InlineKeyboardMarkup:
    cats = list(OpinionCategory)
    rows = [[button(ui.opinion_button_text(c), "oc", 0, ref, c.value) for c in cats[i:i + 2]]
            for i in range(0, len(cats), 2)]
    return markup(rows)


async def _problem(send, session: AsyncSession, user: User, state: FSMContext, settings: Settings,  # type: ignore[no-untyped-def]
                   ref: int = 0) -> None:
    now = utcnow()
    entry = await diary.tag_or_create(session, settings, user, ref, EntryKind.problem, now)
    await session.commit()
    await _compose(state, entry.id, now)
    text = (_("⚠️ Tagged as a problem.") if ref else _("⚠️ Problem: describe it with text, a photo, a voice message "
                                                        "or 📍 your location."))
    await send(text + "\n" + _("Tap 📋 to make it a case for the grid team."),
               reply_markup=markup([[button(_("📋 Make it a case"), "case", entry.id)],
                                    [button(_("✅ Finish"), "done", entry.id),
                                     button(_("🗑 Undo"), "undo", entry.id)]]))


async def kind_label(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                     i18n: PoI18n) -> None:
    """🏠 Visit / 💬 Opinion / ⚠️ Problem on the patrol keyboard."""
    await state.clear()
    text = (message.text or "").strip()
    kind = next((k for label, k in ((ui.VISIT, EntryKind.visit), (ui.OPINION, EntryKind.opinion),
                                    (ui.PROBLEM, EntryKind.problem)) if text == str(label)), None)
    try:
        if kind == EntryKind.visit:
            await _start_visit(message.answer, session, settings, user, 0, i18n.current_locale)
        elif kind == EntryKind.opinion:
            require_field_worker(user)
            await message.answer(_("💬 Opinion: what is it about?"), reply_markup=_opinion_topics(0))
        elif kind == EntryKind.problem:
            await _problem(message.answer, session, user, state, settings)
    except DomainError as err:
        await message.answer(error_for(err))


async def new_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                 state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    """The panel's 🏠 / 💬 / ⚠️ (also off patrol) and a note's tag buttons (``tag``)."""
    ref = callback_data.id if callback_data.action == "tag" else 0
    try:
        kind = ui.LABEL_KINDS[callback_data.arg]
    except KeyError:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    send = (query.message.answer if isinstance(query.message, Message) else None)
    try:
        if ref:  # a forged or stale tag button fails here rather than after the pickers
            await diary.own_entry(session, settings, user, ref, utcnow())
        if kind == EntryKind.visit:
            text, kb = await _buildings(session, settings, user, ref, 0, i18n.current_locale)
            await query.answer()
            await _show(query, text, kb, edit=bool(ref))
        elif kind == EntryKind.opinion:
            require_field_worker(user)
            await query.answer()
            await _show(query, _("💬 Opinion: what is it about?"), _opinion_topics(ref), edit=bool(ref))
        else:
            if send is not None:
                await _problem(send, session, user, state, settings, ref)
            await query.answer()
    except DomainError as err:
        await _refuse(query, err)


async def buildings_page(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                         settings: Settings, i18n: PoI18n) -> None:
    try:
        text, kb = await _buildings(session, settings, user, callback_data.ref, callback_data.id,
                                    i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    await _show(query, text, kb)


async def building_picked(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                          settings: Settings, i18n: PoI18n) -> None:
    today, locale, ref = _today(settings), i18n.current_locale, callback_data.ref
    try:
        require_field_worker(user)
        info = await diary_households.building_info(session, user, callback_data.id, today, locale)
        if info.grid_id not in field_grid_ids(user):
            raise NotFound("building")
        households = await diary_households.building_households(session, user, info.id, today, locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    rows = [[button(ui.household_line(h, with_building=False), "vh", h.id, ref)] for h in households]
    units = [button(_("Unit {unit}").format(unit=u), "vu", info.id, ref, str(u)) for u in range(1, info.units + 1)]
    rows += [units[i:i + 4] for i in range(0, len(units), 4)]
    rows.append([button(_("Another household"), "vu", info.id, ref, "")])
    rows.append([button(_("⬅️ Back"), "vbp", 0, ref)])
    await query.answer()
    text = _("🏠 {building}: which household?").format(building=esc(info.name))
    if households:
        text += "\n" + _("On the ledger first (⏰ due for a visit); or a unit.")
    await _show(query, text, markup(rows))


async def unit_picked(query: CallbackQuery, callback_data: DiaryCb, settings: Settings) -> None:
    unit = callback_data.arg
    if len(unit) > 8:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    rows = [[button(ui.tag_button_text(t), "vc", callback_data.id, callback_data.ref, f"{unit}|{t.value}")]
            for t in CareTag]
    await query.answer()
    await _show(query, _("Which kind of household?"), markup(rows))


async def _visit_logged(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                        settings: Settings, locale: str, entry_id: int, tagged: bool) -> None:
    view, _rights = await diary_views.entry(session, settings, user, entry_id, locale, utcnow())
    await _compose(state, entry_id, utcnow())
    head = _("✅ Tagged as a visit") if tagged else _("✅ Visit logged")
    text = f"{head}: {esc(ui.place_of(view))} · {esc(ui.category_name(view.kind, view.category))}\n" + _(
        "Add a note, a photo or a voice message now (optional), or carry on.")
    await query.answer()
    await _show(query, text, markup([[button(_("🗂 Category"), "cat", entry_id)],
                                     [button(_("✅ Finish"), "done", entry_id),
                                      button(_("🗑 Undo"), "undo", entry_id)]]))


async def visit_household(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                          state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    now, ref = utcnow(), callback_data.ref
    try:
        entry = await diary.tag_or_create(session, settings, user, ref, EntryKind.visit, now,
                                          household_id=callback_data.id)
    except DomainError as err:
        await _refuse(query, err)
        return
    await session.commit()
    await _visit_logged(query, session, user, state, settings, i18n.current_locale, entry.id, bool(ref))


async def visit_category(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                         state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    now, ref = utcnow(), callback_data.ref
    unit, _sep, category = callback_data.arg.partition("|")
    try:
        entry = await diary.tag_or_create(session, settings, user, ref, EntryKind.visit, now, category=category,
                                          building_id=callback_data.id, unit=unit or None)
    except DomainError as err:
        await _refuse(query, err)
        return
    await session.commit()
    await _visit_logged(query, session, user, state, settings, i18n.current_locale, entry.id, bool(ref))


async def opinion_topic(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                        state: FSMContext, settings: Settings) -> None:
    now, ref = utcnow(), callback_data.ref
    try:
        entry = await diary.tag_or_create(session, settings, user, ref, EntryKind.opinion, now,
                                          category=callback_data.arg)
    except DomainError as err:
        await _refuse(query, err)
        return
    await session.commit()
    await _compose(state, entry.id, now)
    topic = ui.category_name(EntryKind.opinion, entry.category)
    head = _("✅ Tagged as an opinion") if ref else _("💬 Opinion")
    text = f"{head}: {esc(topic)}\n" + (_("Anonymous unless you add the resident's name.") if ref else _(
        "Send what the resident said, as text or a voice message. Anonymous unless you add their name."))
    await query.answer()
    await _show(query, text, markup([[button(_("👤 Resident's name"), "name", entry.id)],
                                     [button(_("✅ Finish"), "done", entry.id), button(_("🗑 Undo"), "undo", entry.id)]]))


# ------------------------------------------------------------------ one entry

async def _card(session: AsyncSession, settings: Settings, user: User, entry_id: int,
                locale: str) -> tuple[str, InlineKeyboardMarkup]:
    view, rights = await diary_views.entry(session, settings, user, entry_id, locale, utcnow())
    text = ui.entry_card(view, settings.tz, own=view.worker_id == user.id)
    if rights.late:
        text += "\n" + _("Changes now are kept as a later correction.")
    return text, ui.entry_buttons(view, rights)


async def entry_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   settings: Settings, i18n: PoI18n) -> None:
    try:
        text, kb = await _card(session, settings, user, callback_data.id, i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    await _show(query, text, kb, edit=False)


async def history_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                     settings: Settings) -> None:
    try:
        revisions = await diary_views.history(session, user, callback_data.id)
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    lines = [_("🕘 History of the entry")] + [ui.revision_line(r, settings.tz) for r in revisions]
    # The first version and the latest ones, if a long history does not fit one message.
    await _show(query, ui.fit(lines, keep_first=2), markup([[button(_("⬅️ Back"), "e", callback_data.id)]]),
                edit=False)


async def files_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   bot: Bot) -> None:
    try:
        files = await diary_views.attachments(session, user, callback_data.id)
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    chat = query.from_user.id
    for f in files:
        kind = DiaryMediaKind(f.kind)
        if kind == DiaryMediaKind.location and f.latitude is not None and f.longitude is not None:
            await bot.send_location(chat, f.latitude, f.longitude)
        elif kind == DiaryMediaKind.photo:
            await bot.send_photo(chat, f.file_id)
        elif kind == DiaryMediaKind.voice:
            await bot.send_voice(chat, f.file_id)
        elif kind == DiaryMediaKind.video:
            await bot.send_video(chat, f.file_id)
        elif kind == DiaryMediaKind.audio:
            await bot.send_audio(chat, f.file_id)
        elif kind == DiaryMediaKind.video_note:
            await bot.send_video_note(chat, f.file_id)
        elif f.file_id:
            await bot.send_document(chat, f.file_id)


async def edit_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                  state: FSMContext, settings: Settings) -> None:
    target = DiaryStates.name if callback_data.action == "name" else DiaryStates.edit
    try:
        entry = await diary.own_entry(session, settings, user, callback_data.id, utcnow())
        if target == DiaryStates.name and entry.kind != EntryKind.opinion:
            raise InvalidInput("not_opinion")
    except DomainError as err:
        await _refuse(query, err)
        return
    await state.set_state(target)
    await state.set_data({"entry": entry.id})
    await query.answer()
    if isinstance(query.message, Message):
        if target == DiaryStates.name:
            await query.message.answer(_("Send the resident's name (or tap Anonymous)."),
                                       reply_markup=markup([[button(_("👤 Anonymous"), "anon", entry.id)]]))
        else:
            await query.message.answer(_("Send the new text of the entry. The old one stays in its history."))


async def edit_typed(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                     i18n: PoI18n) -> None:
    data = await state.get_data()
    current = await state.get_state()
    entry_id = int(data.get("entry", 0))
    try:
        if current == DiaryStates.name.state:
            await diary.edit_entry(session, settings, user, entry_id, utcnow(), resident_name=message.text or "")
        else:
            await diary.edit_entry(session, settings, user, entry_id, utcnow(), text=message.text or "")
    except DomainError as err:
        await message.answer(error_for(err))
        if err.code not in ("empty_text", "text_too_long"):
            await state.clear()
        return
    await session.commit()
    await state.clear()
    text, kb = await _card(session, settings, user, entry_id, i18n.current_locale)
    await message.answer(_("✅ Saved.") + "\n\n" + text, reply_markup=kb)


async def anonymous_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                       state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    try:
        await diary.edit_entry(session, settings, user, callback_data.id, utcnow(), resident_name=None)
    except DomainError as err:
        await _refuse(query, err)
        return
    await session.commit()
    await state.clear()
    text, kb = await _card(session, settings, user, callback_data.id, i18n.current_locale)
    await query.answer(_("Saved"))
    await _show(query, text, kb)


async def category_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                      settings: Settings) -> None:
    try:
        entry = await diary.own_entry(session, settings, user, callback_data.id, utcnow())
    except DomainError as err:
        await _refuse(query, err)
        return
    if entry.kind == EntryKind.visit:
        rows = [[button(("✓ " if entry.category == t.value else "") + ui.tag_button_text(t), "ec", entry.id,
                        arg=t.value)] for t in CareTag]
    elif entry.kind == EntryKind.opinion:
        rows = [[button(("✓ " if entry.category == c.value else "") + ui.opinion_button_text(c), "ec", entry.id,
                        arg=c.value)] for c in OpinionCategory]
    else:
        await query.answer(error_for(DomainError("bad_category")), show_alert=True)
        return
    await query.answer()
    await _show(query, _("Which category?"), markup(rows))


async def category_set(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    try:
        await diary.edit_entry(session, settings, user, callback_data.id, utcnow(), category=callback_data.arg)
    except DomainError as err:
        await _refuse(query, err)
        return
    await session.commit()
    text, kb = await _card(session, settings, user, callback_data.id, i18n.current_locale)
    await query.answer(_("Saved"))
    await _show(query, text, kb)


async def retag_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   settings: Settings) -> None:
    try:
        await diary.own_entry(session, settings, user, callback_data.id, utcnow())
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    await _show(query, _("What is it?"), markup([[button(_("🏠 Visit"), "tag", callback_data.id, arg="visit"),
                                                  button(_("💬 Opinion"), "tag", callback_data.id, arg="opinion"),
                                                  button(_("⚠️ Problem"), "tag", callback_data.id, arg="problem")]]))


async def delete_ask(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                     settings: Settings) -> None:
    try:
        await diary.own_entry(session, settings, user, callback_data.id, utcnow(), deleting=True)
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    await _show(query, _("Delete this entry? It stays in its history."),
                markup([[button(_("🗑 Yes, delete"), "delok", callback_data.id)],
                        [button(_("⬅️ Back"), "e", callback_data.id)]]))


async def delete_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                    state: FSMContext, settings: Settings) -> None:
    try:
        await diary.delete_entry(session, settings, user, callback_data.id, utcnow())
    except DomainError as err:
        await _refuse(query, err)
        return
    await session.commit()
    data = await state.get_data()
    if data.get("entry") == callback_data.id:
        await state.clear()
    await query.answer(_("Deleted"))
    await _show(query, _("🗑 Deleted. It stays in the entry's history."), None)


async def case_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                  state: FSMContext, settings: Settings) -> None:
    try:
        case = await diary_cases.open_case(session, settings, user, callback_data.id, utcnow())
    except DomainError as err:
        await _refuse(query, err)
        return
    await session.commit()
    await state.clear()
    await query.answer(_("Case {number} opened").format(number=case.number))
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=None)
        except TelegramBadRequest:
            pass
        await query.message.answer(_("📋 Case {number} is open for your grid team, linked to this diary entry.")
                                   .format(number=esc(case.number)))


# ------------------------------------------------------------------ days, months, grids

async def _day(session: AsyncSession, settings: Settings, user: User, worker_id: int, day: date, page: int,
               locale: str) -> tuple[str, InlineKeyboardMarkup]:
    view = await diary_views.day(session, settings, user, worker_id, day, locale)
    today = _today(settings)
    title = _("📖 Diary of {day}").format(day=day.isoformat()) if view.own else _(
        "📖 Diary of {name}, {day}").format(name=esc(view.worker_name), day=day.isoformat())
    lines = [title]
    for p in view.patrols:
        end = ui.hm(p.ended_at, settings.tz) if p.ended_at else "…"
        lines.append(_("🚶 Patrol {start} – {end}").format(start=ui.hm(p.started_at, settings.tz), end=end))
    if not view.entries:
        lines.append(_("No entries."))
    pages = max(1, -(-len(view.entries) // DAY_PAGE))
    page = min(max(page, 0), pages - 1)
    shown = list(enumerate(view.entries, start=1))[page * DAY_PAGE:(page + 1) * DAY_PAGE]
    for number, e in shown:
        lines.append(ui.entry_line(e, settings.tz, number))
    notes = sum(1 for e in view.entries if e.kind == EntryKind.note and not e.deleted)
    if view.own and notes:
        lines.append(_("📝 {count} notes to tag: tap their numbers.").format(count=notes))
    rows: list[list[InlineKeyboardButton]] = []
    numbers = [button(f"{n}", "e", e.id) for n, e in shown]
    rows += [numbers[i:i + 5] for i in range(0, len(numbers), 5)]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(button("⬆️", "day", worker_id, arg=f"{day.isoformat()}|{page - 1}"))
        nav.append(InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data="noop"))
        if page < pages - 1:
            nav.append(button("⬇️", "day", worker_id, arg=f"{day.isoformat()}|{page + 1}"))
        rows.append(nav)
    rows.append(ui.day_nav("day", worker_id, day, today))
    rows.append([button(_("📊 Month"), "mon", worker_id, arg=day.strftime("%Y-%m"))])
    return ui.fit(lines), markup(rows)


def _parse_day_arg(arg: str, today: date) -> tuple[date, int] | None:
    day_text, _sep, page_text = arg.partition("|")
    try:
        day = date.fromisoformat(day_text) if day_text else today
        page = int(page_text) if page_text else 0
    except ValueError:
        return None
    if day > today or page < 0 or page > 1000:
        return None
    return day, page


async def day_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                 settings: Settings, i18n: PoI18n) -> None:
    parsed = _parse_day_arg(callback_data.arg, _today(settings))
    if parsed is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    try:
        text, kb = await _day(session, settings, user, callback_data.id, parsed[0], parsed[1], i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    await _show(query, text, kb)


def _parse_month(arg: str, settings: Settings) -> tuple[int, int] | None:
    m = re.fullmatch(r"(\d{4})-(\d{2})", arg or "")
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    today = _today(settings)
    if not 1 <= month <= 12 or (year, month) > (today.year, today.month):
        return None
    return year, month


async def month_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   settings: Settings) -> None:
    month = _parse_month(callback_data.arg, settings)
    if month is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    try:
        figs = await diary_figures.worker_month(session, settings, user, callback_data.id, *month)
    except DomainError as err:
        await _refuse(query, err)
        return
    year, mon = month
    title = _("📊 {name}, {year}-{month:02d}").format(name=esc(figs.name), year=year, month=mon)
    today = _today(settings)
    nav = [button("◀️", "mon", callback_data.id, arg=ui.ym(*ui.shift_month(year, mon, -1)))]
    if (year, mon) < (today.year, today.month):
        nav.append(button("▶️", "mon", callback_data.id, arg=ui.ym(*ui.shift_month(year, mon, 1))))
    await query.answer()
    await _show(query, title + "\n" + ui.figures_text(figs), markup([nav]))


async def grid_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                  settings: Settings, i18n: PoI18n) -> None:
    today = _today(settings)
    parsed = _parse_day_arg(callback_data.arg, today)
    if parsed is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    day = parsed[0]
    try:
        view = await diary_views.grid_day(session, settings, user, callback_data.id, day, i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    lines = [_("👥 {grid}, {day}").format(grid=esc(view.grid), day=day.isoformat())]
    rows: list[list[InlineKeyboardButton]] = []
    for w in view.workers:
        counts = " ".join(f"{texts.KIND_ICONS[k]}{w.counts.get(k, 0)}" for k in EntryKind)
        lines.append(_("{name}: {count} entries ({counts}), patrols: {patrols}").format(
            name=esc(w.name), count=w.entries, counts=counts, patrols=w.patrols))
        rows.append([button(f"📖 {w.name}", "day", w.worker_id, arg=day.isoformat())])
    rows.append(ui.day_nav("grid", view.grid_id, day, today))
    rows.append([button(_("📊 Month of the grid"), "gmon", view.grid_id, arg=day.strftime("%Y-%m")),
                 button(_("📚 Household ledger"), "lg", view.grid_id)])
    await query.answer()
    await _show(query, "\n".join(lines), markup(rows))


async def grid_month_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                        settings: Settings, i18n: PoI18n) -> None:
    month = _parse_month(callback_data.arg, settings)
    if month is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    try:
        grid = await diary_figures.grid_month(session, settings, user, callback_data.id, *month, i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    year, mon = month
    lines = [_("📊 {grid}, {year}-{month:02d}").format(grid=esc(grid.grid), year=year, month=mon),
             ui.figures_text(grid.total), ""]
    rows = []
    for f in grid.workers:
        lines.append(_("{label}: {value}").format(label=f"<b>{esc(f.name)}</b>", value=esc(figures_line(_, f))))
        rows.append([button(f"📊 {f.name}", "mon", f.worker_id or 0, arg=ui.ym(*month))])
    today = _today(settings)
    nav = [button("◀️", "gmon", grid.grid_id, arg=ui.ym(*ui.shift_month(year, mon, -1)))]
    if (year, mon) < (today.year, today.month):
        nav.append(button("▶️", "gmon", grid.grid_id, arg=ui.ym(*ui.shift_month(year, mon, 1))))
    rows.append(nav)
    await query.answer()
    await _show(query, ui.fit(lines), markup(rows))


async def community_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    today = _today(settings)
    parsed = _parse_day_arg(callback_data.arg, today)
    if parsed is None:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    day = parsed[0]
    try:
        view = await diary_views.community_day(session, user, callback_data.id, day, i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    lines = [_("🏘️ {community}, {day}").format(community=esc(view.community), day=day.isoformat())]
    rows: list[list[InlineKeyboardButton]] = []
    for g in view.grids:
        lines.append(_("{grid}: {count} entries, workers who logged: {logged}/{workers}").format(
            grid=esc(g.grid), count=g.entries, logged=g.workers_logged, workers=g.workers))
        rows.append([button(f"👥 {g.grid}", "grid", g.grid_id, arg=day.isoformat())])
    rows.append(ui.day_nav("com", view.community_id, day, today))
    await query.answer()
    await _show(query, "\n".join(lines), markup(rows))


# ------------------------------------------------------------------ households

async def due_cb(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings,
                 i18n: PoI18n) -> None:
    try:
        due = await diary_households.due_households(session, settings, user, _today(settings), i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    if not due:
        text = _("✅ No household is due for a visit.")
    else:
        text = _("⏰ Households due for a visit ({count}):").format(count=len(due)) + "\n" + "\n".join(
            f"• {ui.household_line(h)}" for h in due[:30])
    rows = [[button(f"🏠 {h.label}", "hc", h.id)] for h in due[:10]]
    await query.answer()
    await _show(query, text, markup(rows), edit=False)


async def ledger_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                    settings: Settings, i18n: PoI18n) -> None:
    try:
        lines = await diary_households.grid_buildings(session, user, callback_data.id, _today(settings),
                                                      i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    try:
        page = int(callback_data.arg or 0)
    except ValueError:
        page = 0
    pages = max(1, -(-len(lines) // PAGE))
    page = min(max(page, 0), pages - 1)
    rows = [[button(f"🏢 {b.name} ({b.households})" + (f" ⏰{b.due}" if b.due else ""), "lb", b.id)]
            for b in lines[page * PAGE:(page + 1) * PAGE]]
    if pages > 1:
        rows.append([button("◀️", "lg", callback_data.id, arg=str(max(page - 1, 0))),
                     InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data="noop"),
                     button("▶️", "lg", callback_data.id, arg=str(min(page + 1, pages - 1)))])
    await query.answer()
    await _show(query, _("📚 Household ledger: which building?"), markup(rows), edit=False)


async def ledger_building(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                          settings: Settings, i18n: PoI18n) -> None:
    today, locale = _today(settings), i18n.current_locale
    try:
        info = await diary_households.building_info(session, user, callback_data.id, today, locale)
        households = await diary_households.building_households(session, user, info.id, today, locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    rows = [[button(ui.household_line(h, with_building=False), "hc", h.id)] for h in households]
    if info.can_manage:
        rows.append([button(_("➕ Add a household"), "hadd", info.id)])
    rows.append([button(_("⬅️ Back"), "lg", info.grid_id)])
    text = _("📚 {building}: {count} households on the ledger").format(building=esc(info.name), count=len(households))
    await query.answer()
    await _show(query, text, markup(rows))


async def _household(session: AsyncSession, settings: Settings, user: User, household_id: int,
                     locale: str) -> tuple[str, InlineKeyboardMarkup]:
    card = await diary_households.household_card(session, user, household_id, _today(settings), locale)
    rows: list[list[InlineKeyboardButton]] = []
    if card.can_visit:
        rows.append([button(_("🏠 Log a visit"), "vh", household_id)])
    if card.can_manage:
        for tag in CareTag:
            rows.append([button(ui.tag_cycle_text(tag, card.household.tags.get(tag)), "ht", household_id,
                                arg=tag.value)])
    rows.append([button(_("⬅️ Back"), "lb", card.household.building_id)])
    text = ui.household_card_text(card, settings.tz)
    if card.can_manage:
        text += "\n" + _("Tap a tag to change how often it asks for a visit.")
    return text, markup(rows)


async def household_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    try:
        text, kb = await _household(session, settings, user, callback_data.id, i18n.current_locale)
    except DomainError as err:
        await _refuse(query, err)
        return
    await query.answer()
    await _show(query, text, kb)


async def household_tag(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                        settings: Settings, i18n: PoI18n) -> None:
    try:
        tag = CareTag(callback_data.arg)
        await diary_households.cycle_tag(session, settings, user, callback_data.id, tag, utcnow())
        text, kb = await _household(session, settings, user, callback_data.id, i18n.current_locale)
    except ValueError:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    except DomainError as err:
        await _refuse(query, err)
        return
    await session.commit()
    await query.answer(_("Saved"))
    await _show(query, text, kb)


async def household_add(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                        state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    try:
        info = await diary_households.building_info(session, user, callback_data.id, _today(settings),
                                                    i18n.current_locale)
        if not info.can_manage:
            raise NotAllowed()
    except DomainError as err:
        await _refuse(query, err)
        return
    await state.set_state(DiaryStates.household)
    await state.set_data({"building": info.id})
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("New household in {building}: send the unit and the name, "
                                     "e.g. “2-301 王桂芝” (or just the name).").format(building=esc(info.name)))


_UNIT_RE = re.compile(r"^([0-9A-Za-z]+(?:[-－—/][0-9A-Za-z]+)*)\s+(.+)$")


async def household_typed(message: Message, session: AsyncSession, user: User, state: FSMContext,
                          settings: Settings, i18n: PoI18n) -> None:
    data = await state.get_data()
    text = (message.text or "").strip()
    m = _UNIT_RE.match(text)
    unit, label = (m.group(1), m.group(2)) if m and any(c.isdigit() for c in m.group(1)) else (None, text)
    try:
        household = await diary_households.add_household(session, settings, user, int(data.get("building", 0)),
                                                         unit, label, utcnow())
    except DomainError as err:
        await message.answer(error_for(err))
        if err.code not in ("empty_text", "text_too_long"):
            await state.clear()
        return
    await session.commit()
    await state.clear()
    card, kb = await _household(session, settings, user, household.id, i18n.current_locale)
    await message.answer(_("✅ Added to the ledger.") + "\n\n" + card, reply_markup=kb)


# ------------------------------------------------------------------ routing

def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="diary")
    # The diary is kept in the worker's private chat with the bot, never in a group.
    router.message.filter(F.chat.type == "private")
    router.edited_message.filter(F.chat.type == "private")
    router.message.register(panel, F.text == ui.DIARY)
    router.message.register(diary_command, Command("diary"))
    field = FieldWorker()
    router.message.register(kind_label, field, F.text.in_([ui.VISIT, ui.OPINION, ui.PROBLEM]))
    router.message.register(end_label, field, F.text == ui.END)
    # A live location (or its moves): where the patrol is; none open: start one.
    router.message.register(live_location, field, F.location.live_period)
    router.edited_message.register(location_moved, field, F.location)
    router.edited_message.register(note_edited, field, F.text)
    # Conversations of the diary.
    router.message.register(edit_typed, StateFilter(DiaryStates.edit, DiaryStates.name), F.text, NotMenuLabel())
    router.message.register(household_typed, DiaryStates.household, F.text, NotMenuLabel())
    router.message.register(compose_add, DiaryStates.compose, NotMenuLabel(),
                            F.text | F.caption | F.photo | F.voice | F.audio | F.video | F.video_note | F.document
                            | F.location)
    # On patrol, outside any conversation: whatever is sent is a note.
    router.message.register(loose_note, StateFilter(None), OnPatrol(), NotMenuLabel(),
                            F.text | F.photo | F.voice | F.audio | F.video | F.video_note | F.document | F.location)

    callbacks = {
        "panel": panel_cb, "start": start_cb, "end": end_cb, "kb": keyboard_cb, "new": new_cb, "tag": new_cb,
        "vbp": buildings_page, "vb": building_picked, "vu": unit_picked, "vh": visit_household,
        "vc": visit_category, "oc": opinion_topic, "done": done_cb, "e": entry_cb, "hist": history_cb,
        "files": files_cb, "edit": edit_cb, "name": edit_cb, "anon": anonymous_cb, "cat": category_cb,
        "ec": category_set, "retag": retag_cb, "del": delete_ask, "delok": delete_cb, "undo": delete_cb,
        "case": case_cb, "day": day_cb, "mon": month_cb, "grid": grid_cb, "gmon": grid_month_cb,
        "com": community_cb, "due": due_cb, "lg": ledger_cb, "lb": ledger_building, "hc": household_cb,
        "ht": household_tag, "hadd": household_add,
    }
    for action, handler in callbacks.items():
        router.callback_query.register(handler, DiaryCb.filter(F.action == action))
    return router
