"""The household ledger in chat: households due for a visit, a grid's
buildings, a building's households, one household (its tags and how often
they ask for a visit), and a new household."""

from __future__ import annotations

import re

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import diary, org
from bot.services.bounds import MAX_PAGE, parse_int
from bot.services.errors import DomainError, InvalidInput
from bot.services.escape import esc
from handlers.diary import ui
from handlers.diary.shared import (
    BUILDINGS_PAGE,
    NotMenuLabel,
    answer_and_show,
    callbacks,
    retry_or_leave,
    today,
)
from handlers.diary.ui import DiaryCb, DiaryStates, button, markup
from models import CareTag, Role, User, utcnow

_UNIT_RE = re.compile(r"^([0-9A-Za-z]+(?:[-－—/][0-9A-Za-z]+)*)\s+(.+)$")


async def due_cb(query: CallbackQuery, session: AsyncSession, user: User, settings: Settings,
                 i18n: PoI18n) -> None:
    due = await diary.due_households(session, settings, user, today(settings), i18n.current_locale)
    if not due:
        text = _("✅ No household is due for a visit.")
    else:
        text = _("⏰ Households due for a visit ({count}):").format(count=len(due)) + "\n" + "\n".join(
            f"• {ui.household_line(h)}" for h in due[:30])
    rows = [[button(f"🏠 {h.label}", "hc", h.id)] for h in due[:10]]
    await answer_and_show(query, text, markup(rows), edit=False)


async def ledger_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                    settings: Settings, i18n: PoI18n) -> None:
    lines = await diary.grid_buildings(session, user, callback_data.id, today(settings), i18n.current_locale)
    try:
        page = parse_int(callback_data.arg or "0", lo=0, hi=MAX_PAGE)
    except InvalidInput:
        page = 0
    shown, page, pages = ui.paginate(lines, page, BUILDINGS_PAGE)
    rows = [[button(f"🏢 {b.name} ({b.households})" + (f" ⏰{b.due}" if b.due else ""), "lb", b.id)]
            for b in shown]
    if pages > 1:
        rows.append([button("◀️", "lg", callback_data.id, arg=str(max(page - 1, 0))), ui.page_counter(page, pages),
                     button("▶️", "lg", callback_data.id, arg=str(min(page + 1, pages - 1)))])
    await answer_and_show(query, _("📚 Household ledger: which building?"), markup(rows), edit=False)


async def ledger_building(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                          settings: Settings, i18n: PoI18n) -> None:
    day, locale = today(settings), i18n.current_locale
    info = await diary.building_info(session, user, callback_data.id, day, locale)
    households = await diary.building_households(session, user, info.id, day, locale)
    rows = [[button(ui.household_line(h, with_building=False), "hc", h.id)] for h in households]
    if info.can_manage:
        rows.append([button(_("➕ Add a household"), "hadd", info.id)])
    rows.append([button(_("⬅️ Back"), "lg", info.grid_id)])
    text = _("📚 {building}: households on the ledger {count}").format(building=esc(info.name), count=len(households))
    for person in await org.building_people(session, user, info.id):  # its heads, its central households
        if person.role == Role.building_head:
            text += "\n" + _("🏢 Building head: {name}").format(name=esc(person.name))
        elif person.role == Role.unit_head:
            text += "\n" + _("🚪 Unit {unit} head: {name}").format(unit=person.unit, name=esc(person.name))
        else:
            text += "\n" + _("🚩 Party-member central household: {name}").format(name=esc(person.name))
    await answer_and_show(query, text, markup(rows))


async def _household(session: AsyncSession, settings: Settings, user: User, household_id: int,
                     locale: str) -> tuple[str, InlineKeyboardMarkup]:
    card = await diary.household_card(session, user, household_id, today(settings), locale)
    rows: list[list[InlineKeyboardButton]] = []
    if card.can_visit:
        rows.append([button(_("🏠 Log a visit"), "vh", household_id)])
    if card.can_manage:
        rows.append([button(_("🔗 Which resident is it?"), "hres", household_id)])
    if card.can_manage and not card.consented:
        rows.append([button(_("✅ The household agreed"), "hcons", household_id)])
    elif card.can_manage:
        for tag in CareTag:
            rows.append([button(ui.tag_cycle_text(tag, card.household.tags.get(tag)), "ht", household_id,
                                arg=tag.value)])
    rows.append([button(_("⬅️ Back"), "lb", card.household.building_id)])
    text = ui.household_card_text(card, settings.tz)
    if card.can_manage and not card.consented:
        text += "\n" + _("Before tags are kept, ask the household: do they agree that we record "
                         "their situation (living alone, disability, hardship) so that we visit them? "
                         "If they agree, tap “The household agreed”.")
    elif card.can_manage:
        text += "\n" + _("Tap a tag to change how often it asks for a visit.")
    return text, markup(rows)


async def household_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    text, kb = await _household(session, settings, user, callback_data.id, i18n.current_locale)
    await answer_and_show(query, text, kb)


async def household_tag(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                        settings: Settings, i18n: PoI18n) -> None:
    try:
        tag = CareTag(callback_data.arg)
    except ValueError:
        raise InvalidInput("stale_button") from None
    await diary.cycle_tag(session, settings, user, callback_data.id, tag, utcnow())
    text, kb = await _household(session, settings, user, callback_data.id, i18n.current_locale)
    await session.commit()
    await answer_and_show(query, text, kb, note=_("Saved"))


async def household_consent(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                            settings: Settings, i18n: PoI18n) -> None:
    await diary.record_consent(session, user, callback_data.id, utcnow())
    text, kb = await _household(session, settings, user, callback_data.id, i18n.current_locale)
    await session.commit()
    await answer_and_show(query, text, kb, note=_("Saved"))


async def household_residents(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession,
                              user: User) -> None:
    options = await diary.linkable_residents(session, user, callback_data.id)
    rows = [[button(f"👤 {o.name}" + (f" ·{o.phone_tail}" if o.phone_tail else ""), "hlink", callback_data.id,
                    ref=o.id)] for o in options]
    rows.append([button(_("Nobody on the bot"), "hlink", callback_data.id, ref=0)])
    rows.append([button(_("⬅️ Back"), "hc", callback_data.id)])
    await answer_and_show(query, _("Which registered resident of the building is this household? "
                                   "They will see its tags in their profile."), markup(rows))


async def household_link(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                         settings: Settings, i18n: PoI18n) -> None:
    await diary.link_resident(session, user, callback_data.id, callback_data.ref, utcnow())
    text, kb = await _household(session, settings, user, callback_data.id, i18n.current_locale)
    await session.commit()
    await answer_and_show(query, text, kb, note=_("Saved"))


async def household_add(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                        state: FSMContext, settings: Settings, i18n: PoI18n) -> None:
    info = await diary.managed_building(session, user, callback_data.id, today(settings), i18n.current_locale)
    await state.set_state(DiaryStates.household)
    await state.set_data({"building": info.id})
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("New household in {building}: send the unit and the name, "
                                     "e.g. “2-301 王桂芝” (or just the name).").format(building=esc(info.name)))


async def household_typed(message: Message, session: AsyncSession, user: User, state: FSMContext,
                          settings: Settings, i18n: PoI18n) -> None:
    data = await state.get_data()
    text = (message.text or "").strip()
    m = _UNIT_RE.match(text)
    unit, label = (m.group(1), m.group(2)) if m and any(c.isdigit() for c in m.group(1)) else (None, text)
    try:
        household = await diary.add_household(session, settings, user, int(data.get("building", 0)), unit, label,
                                               utcnow())
    except DomainError as err:
        # An empty or too long text may be typed again: the conversation stays (see retry_or_leave).
        await retry_or_leave(message, state, err)
        return
    await session.commit()
    await state.clear()
    card, kb = await _household(session, settings, user, household.id, i18n.current_locale)
    await message.answer(_("✅ Added to the ledger.") + "\n\n" + card, reply_markup=kb)


def create_router() -> Router:
    router = Router(name="diary.households")
    router.message.register(household_typed, DiaryStates.household, F.text, NotMenuLabel())
    callbacks(router, {"due": due_cb, "lg": ledger_cb, "lb": ledger_building, "hc": household_cb,
                       "ht": household_tag, "hadd": household_add, "hcons": household_consent,
                       "hres": household_residents, "hlink": household_link})
    return router
