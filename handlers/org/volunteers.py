"""Volunteers and the proxy errands offered to them; the owner's offer.

    case card (owner of a proxy errand) → [🙋 Offer to volunteers] → phone needed? → offered
    volunteer: notification [🙋 Take it] → first one wins → the errand's card [✅ My part is done]
    🙋 My errands → the open errands they took
"""

from __future__ import annotations

from contextlib import suppress

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases, events
from bot.services.errors import DomainError
from handlers import labels
from handlers.cases.ui import CaseCb
from handlers.filters import HasRole
from handlers.org.ui import ErrandCb, OrgCb
from handlers.refusal import refuse
from handlers.render import esc
from models import Role, User, utcnow


def _rows(*buttons: tuple[str, OrgCb | ErrandCb]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=cb.pack())]
                                                 for t, cb in buttons])


# ------------------------------------------------------------------ the case's owner

async def offer_ask(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                    i18n: PoI18n) -> None:
    await cases.require_action(session, user, callback_data.id, "vol", i18n.current_locale, utcnow())
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            _("Offer this errand to the community's volunteers? The first to take it helps; you stay in charge "
              "and close the case. Does the volunteer need the resident's phone?"),
            reply_markup=_rows((_("📞 Yes, share the phone"), OrgCb(action="vo1", id=callback_data.id)),
                               (_("🙅 No phone needed"), OrgCb(action="vo0", id=callback_data.id))))


async def offer_do(query: CallbackQuery, callback_data: OrgCb, session: AsyncSession, user: User,
                   settings: Settings) -> None:
    told = await cases.offer_errand(session, settings, user, callback_data.id,
                                    share_phone=callback_data.action == "vo1", now=utcnow())
    await session.commit()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(ngettext("🙋 Offered to {count} volunteer. You will hear when they take it.",
                                               "🙋 Offered to {count} volunteers. You will hear when one takes it.",
                                               told).format(count=told))


# ------------------------------------------------------------------ volunteers

def _card(e: cases.Errand) -> str:
    lines = [_("🙋 <b>Errand {number}</b>: {category}").format(number=e.number, category=esc(e.category)),
             _("Grid: {grid}").format(grid=esc(e.grid))]
    if e.needed_by:
        lines.append(_("Needed by {day}.").format(day=e.needed_by.isoformat()))
    if e.resident:
        lines.append(_("For: {name}, {building}").format(name=esc(e.resident), building=esc(e.building or "")))
    if e.phone:
        lines.append(_("📞 {phone} (shared because the errand needs it; please do not pass it on)")
                     .format(phone=esc(e.phone)))
    if e.request:
        lines.append(_("What is needed: {text}").format(text=esc(e.request)))
    if e.authorisation:
        lines.append(_("The resident authorised: {text}").format(text=esc(e.authorisation)))
    if e.done:
        lines.append(_("✅ You have said your part is done; the grid worker closes it."))
    return "\n".join(lines)


async def _show(query: CallbackQuery, session: AsyncSession, user: User, offer_id: int, locale: str) -> None:
    e = await cases.errand(session, user, offer_id, locale, utcnow())
    await session.commit()  # the phone's showing is in the access log
    markup = None if e.done else _rows((_("✅ My part is done"), ErrandCb(action="done", id=offer_id)))
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_card(e), reply_markup=markup)


async def take(query: CallbackQuery, callback_data: ErrandCb, session: AsyncSession, user: User,
               settings: Settings, i18n: PoI18n) -> None:
    try:
        case = await cases.take_errand(session, settings, user, callback_data.id, utcnow())
    except DomainError as err:
        if err.code not in ("errand_taken", "errand_gone"):
            raise
        await refuse(query, err)  # someone was quicker: said, and no "Take it" left to press
        if isinstance(query.message, Message):
            with suppress(TelegramBadRequest):
                await query.message.edit_reply_markup(reply_markup=None)
        return
    await session.commit()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await query.message.answer(_("🙋 Thank you! Errand {number} is yours.").format(number=case.number))
    await _show(query, session, user, callback_data.id, i18n.current_locale)


async def view(query: CallbackQuery, callback_data: ErrandCb, session: AsyncSession, user: User,
               i18n: PoI18n) -> None:
    await _show(query, session, user, callback_data.id, i18n.current_locale)


async def done(query: CallbackQuery, callback_data: ErrandCb, session: AsyncSession, user: User,
               settings: Settings) -> None:
    case = await cases.errand_done(session, settings, user, callback_data.id, utcnow())
    await session.commit()
    await query.answer(_("Thank you! The grid worker will check with the resident and close errand {number}.")
                       .format(number=case.number), show_alert=True)


async def my_errands(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    items = await cases.my_errands(session, user, i18n.current_locale)
    hours = await events.volunteer_hours(session, user)
    credited = ("\n" + _("🙏 Volunteer hours credited to you so far: {hours}").format(hours=hours)) if hours else ""
    if not items:
        await message.answer(_("You have no open errands. When a grid worker offers one, you get a message with "
                               "a “Take it” button.") + credited)
        return
    await message.answer(_("🙋 Your open errands:") + credited, reply_markup=_rows(
        *((f"{e.number} · {e.category}"[:60], ErrandCb(action="view", id=e.offer_id)) for e in items)))


def register(router: Router) -> None:
    router.message.register(my_errands, F.text == labels.MY_ERRANDS, HasRole(Role.volunteer))
    router.callback_query.register(offer_ask, CaseCb.filter(F.action == "vol"))
    router.callback_query.register(offer_do, OrgCb.filter(F.action.in_({"vo0", "vo1"})))
    router.callback_query.register(take, ErrandCb.filter(F.action == "take"))
    router.callback_query.register(view, ErrandCb.filter(F.action == "view"))
    router.callback_query.register(done, ErrandCb.filter(F.action == "done"))
