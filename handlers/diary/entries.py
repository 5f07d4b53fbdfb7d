"""Entries: starting one (🏠 building → household or unit → category, 💬 topic,
⚠️ at once), the messages that follow it, loose notes on patrol, and one
entry's card with what its author may still do to it.

The catch-alls here (what follows an entry, a loose note) come last among
the diary's handlers: they only act in their conversation, or on patrol
outside any conversation, and never on a menu label or a command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases, diary
from bot.services.access import require_field_worker
from bot.services.errors import DomainError, InvalidInput
from bot.services.escape import esc
from handlers.cases.ui import CaseCb
from handlers.diary import ui
from handlers.diary.shared import (
    BUILDINGS_PAGE,
    FieldWorker,
    NotMenuLabel,
    OnPatrol,
    answer_and_show,
    callbacks,
    compose,
    drop_buttons,
    error_for,
    media_of,
    retry_or_leave,
    text_of,
    today,
)
from handlers.diary.ui import DiaryCb, DiaryStates, button, finish_row, markup, tag_row
from models import CareTag, DiaryMediaKind, EntryKind, OpinionCategory, User, utcnow

Send = Callable[..., Awaitable[Any]]

# ------------------------------------------------------------------ loose notes and the entry being written


async def loose_note(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    entry = await diary.add_note(session, settings, user, utcnow(), text=text_of(message), media=media_of(message),
                                 message_id=message.message_id)
    await session.commit()
    await message.answer(
        _("📝 Note saved ({time}). Tag it now or later:").format(time=ui.hm(entry.occurred_at, settings.tz)),
        reply_markup=markup([tag_row(entry.id)]))


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
            await message.answer(_("Please choose from the menu below, or tap ❓ Help."))
        return
    try:
        entry = await diary.add_to_entry(session, settings, user, int(data["entry"]), now, text=text_of(message),
                                         media=media_of(message))
    except DomainError as err:
        # Refused: the entry is left, so the next message is not added to it again.
        await state.clear()
        await message.answer(error_for(err))
        return
    await session.commit()
    await state.update_data(until=(now + timedelta(minutes=diary.COMPOSE_MINUTES)).isoformat())
    await message.answer(_("➕ Added to the {kind}.").format(kind=ui.kind_name(entry.kind)),
                         reply_markup=markup([[button(_("✅ Finish"), "done", entry.id)]]))


async def done_cb(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer(_("Saved"))
    await drop_buttons(query)


# ------------------------------------------------------------------ starting entries

async def _buildings(session: AsyncSession, settings: Settings, user: User, ref: int, page: int,
                     locale: str) -> tuple[str, InlineKeyboardMarkup]:
    lines = await diary.visit_buildings(session, settings, user, today(settings), locale, utcnow())
    shown, page, pages = ui.paginate(lines, page, BUILDINGS_PAGE)
    rows = [[button(f"🏢 {b.name}" + (f" ⏰{b.due}" if b.due else ""), "vb", b.id, ref)] for b in shown]
    nav = []
    if page > 0:
        nav.append(button("◀️", "vbp", page - 1, ref))
    if pages > 1:
        nav.append(ui.page_counter(page, pages))
    if page < pages - 1:
        nav.append(button("▶️", "vbp", page + 1, ref))
    rows.append(nav)
    return _("🏠 Visit: which building?"), markup(rows)


def _opinion_topics(ref: int) -> InlineKeyboardMarkup:
    cats = list(OpinionCategory)
    rows = [[button(ui.opinion_button_text(c), "oc", 0, ref, c.value) for c in cats[i:i + 2]]
            for i in range(0, len(cats), 2)]
    return markup(rows)


async def _problem(send: Send, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                   ref: int = 0) -> None:
    now = utcnow()
    entry = await diary.tag_or_create(session, settings, user, ref, EntryKind.problem, now)
    await session.commit()
    await compose(state, entry.id, now)
    text = (_("⚠️ Tagged as a problem.") if ref else _("⚠️ Problem: describe it with text, a photo, a voice message "
                                                        "or 📍 your location."))
    hint = (_("Tap 📋 to make it a case: yours to fix, with its place.") if cases.finder_keeps(user, entry.grid_id)
            else _("Tap 📋 to make it a case for the grid team."))
    await send(text + "\n" + hint,
               reply_markup=markup([[button(_("📋 Make it a case"), "case", entry.id)], finish_row(entry.id)]))


async def kind_label(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                     i18n: PoI18n) -> None:
    """🏠 Visit / 💬 Opinion / ⚠️ Problem on the patrol keyboard."""
    await state.clear()
    text = (message.text or "").strip()
    kind = next((k for label, k in ((ui.VISIT, EntryKind.visit), (ui.OPINION, EntryKind.opinion),
                                    (ui.PROBLEM, EntryKind.problem)) if text == str(label)), None)
    if kind == EntryKind.visit:
        text, kb = await _buildings(session, settings, user, 0, 0, i18n.current_locale)
        await message.answer(text, reply_markup=kb)
    elif kind == EntryKind.opinion:
        require_field_worker(user)
        await message.answer(_("💬 Opinion: what is it about?"), reply_markup=_opinion_topics(0))
    elif kind == EntryKind.problem:
        await _problem(message.answer, session, user, state, settings)


async def new_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                 state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    """The panel's 🏠 / 💬 / ⚠️ (also off patrol) and a note's tag buttons (``tag``)."""
    ref = callback_data.id if callback_data.action == "tag" else 0
    kind = ui.LABEL_KINDS.get(callback_data.arg)
    if kind is None:
        raise InvalidInput("stale_button")
    if ref:  # a forged or stale tag button fails here rather than after the pickers
        await diary.own_entry(session, settings, user, ref, utcnow())
    if kind == EntryKind.visit:
        text, kb = await _buildings(session, settings, user, ref, 0, i18n.current_locale)
        await answer_and_show(query, text, kb, edit=bool(ref))
    elif kind == EntryKind.opinion:
        require_field_worker(user)
        await answer_and_show(query, _("💬 Opinion: what is it about?"), _opinion_topics(ref), edit=bool(ref))
    else:
        if isinstance(query.message, Message):
            await _problem(query.message.answer, session, user, state, settings, ref)
        await query.answer()


async def buildings_page(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                         settings: Settings, i18n: PoI18n) -> None:
    text, kb = await _buildings(session, settings, user, callback_data.ref, callback_data.id, i18n.current_locale)
    await answer_and_show(query, text, kb)


async def building_picked(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                          settings: Settings, i18n: PoI18n) -> None:
    ref = callback_data.ref
    info, households = await diary.visit_building(session, user, callback_data.id, today(settings),
                                                  i18n.current_locale)
    rows = [[button(ui.household_line(h, with_building=False), "vh", h.id, ref)] for h in households]
    units = [button(_("Unit {unit}").format(unit=u), "vu", info.id, ref, str(u)) for u in range(1, info.units + 1)]
    rows += [units[i:i + 4] for i in range(0, len(units), 4)]
    rows.append([button(_("Another household"), "vu", info.id, ref, "")])
    rows.append([button(_("⬅️ Back"), "vbp", 0, ref)])
    text = _("🏠 {building}: which household?").format(building=esc(info.name))
    if households:
        text += "\n" + _("On the ledger first (⏰ due for a visit); or a unit.")
    await answer_and_show(query, text, markup(rows))


async def unit_picked(query: CallbackQuery, callback_data: DiaryCb) -> None:
    unit = callback_data.arg
    if len(unit) > 8:
        raise InvalidInput("stale_button")
    rows = [[button(ui.tag_button_text(t), "vc", callback_data.id, callback_data.ref, f"{unit}|{t.value}")]
            for t in CareTag]
    await answer_and_show(query, _("Which kind of household?"), markup(rows))


async def _visit_logged(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                        settings: Settings, locale: str, entry_id: int, tagged: bool) -> None:
    await session.commit()
    view, _rights = await diary.entry(session, settings, user, entry_id, locale, utcnow())
    await compose(state, entry_id, utcnow())
    head = _("✅ Tagged as a visit") if tagged else _("✅ Visit logged")
    text = f"{head}: {esc(ui.place_of(view))} · {esc(ui.category_name(view.kind, view.category))}\n" + _(
        "Add a note, a photo or a voice message now (optional), or carry on.")
    await answer_and_show(query, text, markup([[button(_("🗂 Category"), "cat", entry_id)], finish_row(entry_id)]))


async def visit_household(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                          state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    ref = callback_data.ref
    entry = await diary.tag_or_create(session, settings, user, ref, EntryKind.visit, utcnow(),
                                      household_id=callback_data.id)
    await _visit_logged(query, session, user, state, settings, i18n.current_locale, entry.id, bool(ref))


async def visit_category(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                         state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    ref = callback_data.ref
    unit, _sep, category = callback_data.arg.partition("|")
    entry = await diary.tag_or_create(session, settings, user, ref, EntryKind.visit, utcnow(), category=category,
                                      building_id=callback_data.id, unit=unit or None)
    await _visit_logged(query, session, user, state, settings, i18n.current_locale, entry.id, bool(ref))


async def opinion_topic(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                        state: FSMContext, settings: Settings) -> None:
    now, ref = utcnow(), callback_data.ref
    entry = await diary.tag_or_create(session, settings, user, ref, EntryKind.opinion, now,
                                      category=callback_data.arg)
    await session.commit()
    await compose(state, entry.id, now)
    topic = ui.category_name(EntryKind.opinion, entry.category)
    head = _("✅ Tagged as an opinion") if ref else _("💬 Opinion")
    text = f"{head}: {esc(topic)}\n" + (_("Anonymous unless you add the resident's name.") if ref else _(
        "Send what the resident said, as text or a voice message. Anonymous unless you add their name."))
    await answer_and_show(query, text, markup([[button(_("👤 Resident's name"), "name", entry.id)],
                                               finish_row(entry.id)]))


# ------------------------------------------------------------------ one entry

async def card(session: AsyncSession, settings: Settings, user: User, entry_id: int,
               locale: str) -> tuple[str, InlineKeyboardMarkup]:
    view, rights = await diary.entry(session, settings, user, entry_id, locale, utcnow())
    text = ui.entry_card(view, settings.tz, own=view.worker_id == user.id)
    if rights.late:
        text += "\n" + _("Changes now are kept as a later correction.")
    return text, ui.entry_buttons(view, rights)


async def entry_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   settings: Settings, i18n: PoI18n) -> None:
    text, kb = await card(session, settings, user, callback_data.id, i18n.current_locale)
    await answer_and_show(query, text, kb, edit=False)


async def history_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                     settings: Settings) -> None:
    revisions = await diary.history(session, user, callback_data.id)
    lines = [_("🕘 History of the entry")] + [ui.revision_line(r, settings.tz) for r in revisions]
    # The first version and the latest ones, if a long history does not fit one message.
    await answer_and_show(query, ui.fit(lines, keep_first=2), markup([[button(_("⬅️ Back"), "e", callback_data.id)]]),
                          edit=False)


async def files_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   bot: Bot) -> None:
    files = await diary.attachments(session, user, callback_data.id)
    await query.answer()
    chat = query.from_user.id
    senders = {DiaryMediaKind.photo: bot.send_photo, DiaryMediaKind.voice: bot.send_voice,
               DiaryMediaKind.video: bot.send_video, DiaryMediaKind.audio: bot.send_audio,
               DiaryMediaKind.video_note: bot.send_video_note}
    for f in files:
        kind = DiaryMediaKind(f.kind)
        if kind == DiaryMediaKind.location and f.latitude is not None and f.longitude is not None:
            await bot.send_location(chat, f.latitude, f.longitude)
        elif kind in senders:
            await senders[kind](chat, f.file_id)
        elif f.file_id:
            await bot.send_document(chat, f.file_id)


async def edit_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                  state: FSMContext, settings: Settings) -> None:
    naming = callback_data.action == "name"
    own = diary.own_opinion if naming else diary.own_entry
    entry = await own(session, settings, user, callback_data.id, utcnow())
    await state.set_state(DiaryStates.name if naming else DiaryStates.edit)
    await state.set_data({"entry": entry.id})
    await query.answer()
    if isinstance(query.message, Message):
        if naming:
            await query.message.answer(_("Send the resident's name (or tap Anonymous)."),
                                       reply_markup=markup([[button(_("👤 Anonymous"), "anon", entry.id)]]))
        else:
            await query.message.answer(_("Send the new text of the entry. The old one stays in its history."))


async def edit_typed(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                     i18n: PoI18n) -> None:
    data = await state.get_data()
    field = "resident_name" if await state.get_state() == DiaryStates.name.state else "text"
    entry_id = int(data.get("entry", 0))
    try:
        await diary.edit_entry(session, settings, user, entry_id, utcnow(), **{field: message.text or ""})
    except DomainError as err:
        # An empty or too long text may be typed again: the conversation stays (see retry_or_leave).
        await retry_or_leave(message, state, err)
        return
    await session.commit()
    await state.clear()
    text, kb = await card(session, settings, user, entry_id, i18n.current_locale)
    await message.answer(_("✅ Saved.") + "\n\n" + text, reply_markup=kb)


async def _saved(query: CallbackQuery, session: AsyncSession, settings: Settings, user: User, entry_id: int,
                 locale: str) -> None:
    """A change made: the entry's card again, in place."""
    await session.commit()
    text, kb = await card(session, settings, user, entry_id, locale)
    await answer_and_show(query, text, kb, note=_("Saved"))


async def anonymous_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                       state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    await diary.edit_entry(session, settings, user, callback_data.id, utcnow(), resident_name=None)
    await state.clear()
    await _saved(query, session, settings, user, callback_data.id, i18n.current_locale)


async def category_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                      settings: Settings) -> None:
    entry = await diary.own_entry(session, settings, user, callback_data.id, utcnow())
    if entry.kind == EntryKind.visit:
        choices = [(t.value, ui.tag_button_text(t)) for t in CareTag]
    elif entry.kind == EntryKind.opinion:
        choices = [(c.value, ui.opinion_button_text(c)) for c in OpinionCategory]
    else:
        raise InvalidInput("bad_category")
    rows = [[button(("✓ " if entry.category == value else "") + label, "ec", entry.id, arg=value)]
            for value, label in choices]
    await answer_and_show(query, _("Which category?"), markup(rows))


async def category_set(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    await diary.edit_entry(session, settings, user, callback_data.id, utcnow(), category=callback_data.arg)
    await _saved(query, session, settings, user, callback_data.id, i18n.current_locale)


async def retag_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   settings: Settings) -> None:
    await diary.own_entry(session, settings, user, callback_data.id, utcnow())
    await answer_and_show(query, _("What is it?"), markup([tag_row(callback_data.id)]))


async def delete_ask(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                     settings: Settings) -> None:
    await diary.own_entry(session, settings, user, callback_data.id, utcnow(), deleting=True)
    await answer_and_show(query, _("Delete this entry? It stays in its history."),
                          markup([[button(_("🗑 Yes, delete"), "delok", callback_data.id)],
                                  [button(_("⬅️ Back"), "e", callback_data.id)]]))


async def delete_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                    state: FSMContext, settings: Settings) -> None:
    await diary.delete_entry(session, settings, user, callback_data.id, utcnow())
    await session.commit()
    data = await state.get_data()
    if data.get("entry") == callback_data.id:
        await state.clear()
    await answer_and_show(query, _("🗑 Deleted. It stays in the entry's history."), None, note=_("Deleted"))


async def case_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                  state: FSMContext, settings: Settings) -> None:
    case = await diary.open_case(session, settings, user, callback_data.id, utcnow())
    await session.commit()
    await state.clear()
    await query.answer(_("Case {number} opened").format(number=case.number))
    await drop_buttons(query)
    if not isinstance(query.message, Message):
        return
    if case.owner_id == user.id:  # found on his own grid's patrol: his to fix, a colleague confirms (issue 20)
        text = _("📋 Case {number} is yours, with its place, linked to this diary entry. Fix it, then tap "
                 "✅ Mark as done in its card: a colleague will check it.")
    else:
        text = _("📋 Case {number} is open for your grid team, linked to this diary entry.")
    await query.message.answer(text.format(number=esc(case.number)), reply_markup=InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=_("📄 Details"),
                                               callback_data=CaseCb(action="view", id=case.id).pack())]]))


def create_router() -> Router:
    router = Router(name="diary.entries")
    router.message.register(kind_label, FieldWorker(), F.text.in_([ui.VISIT, ui.OPINION, ui.PROBLEM]))
    # Conversations of the diary.
    router.message.register(edit_typed, StateFilter(DiaryStates.edit, DiaryStates.name), F.text, NotMenuLabel())
    router.message.register(compose_add, DiaryStates.compose, NotMenuLabel(),
                            F.text | F.caption | F.photo | F.voice | F.audio | F.video | F.video_note | F.document
                            | F.location)
    # On patrol, outside any conversation: whatever is sent is a note.  (Only a field worker has
    # patrols: asked first, from the user alone, it spares everyone else the patrol's lookup.)
    router.message.register(loose_note, StateFilter(None), FieldWorker(), OnPatrol(), NotMenuLabel(),
                            F.text | F.photo | F.voice | F.audio | F.video | F.video_note | F.document | F.location)
    callbacks(router, {
        "new": new_cb, "tag": new_cb, "vbp": buildings_page, "vb": building_picked, "vu": unit_picked,
        "vh": visit_household, "vc": visit_category, "oc": opinion_topic, "done": done_cb, "e": entry_cb,
        "hist": history_cb, "files": files_cb, "edit": edit_cb, "name": edit_cb, "anon": anonymous_cb,
        "cat": category_cb, "ec": category_set, "retag": retag_cb, "del": delete_ask, "delok": delete_cb,
        "undo": delete_cb, "case": case_cb,
    })
    return router
