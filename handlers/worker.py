"""Grid workers and grid heads: their grid, and the residents' home claims to confirm."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import homes
from bot.services import staff as staff_service
from handlers import labels
from handlers.callbacks import HomeCb
from handlers.filters import HasRole
from handlers.keyboards import with_nav
from handlers.render import esc
from handlers.replies import edit_in_place
from models import Role, User, utcnow


def grid_lines(summaries: list[staff_service.GridSummary]) -> list[str]:
    return [
        _("<b>{grid}</b> ({community})\nBuildings: {buildings} · Residents on the bot: {residents} · Workers: {workers}").format(
            grid=esc(s.grid), community=esc(s.community), buildings=s.buildings, residents=s.residents,
            workers=s.workers)
        for s in summaries
    ]


async def my_grid(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    summaries = await staff_service.my_grids(session, user, i18n.current_locale)
    lines = grid_lines(summaries)
    waiting = await homes.claims_count(session, user)
    markup = None
    if waiting:
        lines.append(_("🏠 Residents waiting for you to confirm their building: {count}").format(count=waiting))
        markup = with_nav(InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
            text=_("🏠 Confirm residents"), callback_data=HomeCb(action="list").pack())]]))
    await message.answer("\n\n".join(lines), reply_markup=markup)


async def _claims_page(session: AsyncSession, user: User, locale: str) -> tuple[str, InlineKeyboardMarkup | None]:
    """The oldest claims with a Confirm / Reject pair each."""
    items = await homes.claims(session, user, locale)
    if not items:
        return _("No residents are waiting for you to confirm their building."), None
    lines = [_("Do these residents live where they say? Confirm only people you know live there; "
               "until then they see nothing of their neighbours.")]
    keyboard = []
    for c in items:
        lines.append(f"• {esc(c.name)} · {esc(c.building)}")
        keyboard.append([
            InlineKeyboardButton(text=_("✅ {name} lives there").format(name=c.name[:24]),
                                 callback_data=HomeCb(action="ok", id=c.user_id).pack()),
            InlineKeyboardButton(text=_("❌ Not known"), callback_data=HomeCb(action="no", id=c.user_id).pack())])
    return "\n".join(lines), with_nav(InlineKeyboardMarkup(inline_keyboard=keyboard))


async def claims_list(query: CallbackQuery, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    text, markup = await _claims_page(session, user, i18n.current_locale)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(text, reply_markup=markup)


async def claim_decided(query: CallbackQuery, callback_data: HomeCb, session: AsyncSession, user: User,
                        i18n: PoI18n, settings: Settings) -> None:
    """Confirm or reject one claim (the service checks the worker's grid on every press)."""
    if callback_data.action == "ok":
        name = await homes.confirm(session, settings, user, callback_data.id, utcnow())
        done = _("✅ Confirmed: {name}.").format(name=name)
    else:
        name = await homes.reject(session, settings, user, callback_data.id, utcnow())
        done = _("Rejected: {name} will choose their building again.").format(name=name)
    await session.commit()
    await query.answer(done)
    text, markup = await _claims_page(session, user, i18n.current_locale)
    await edit_in_place(query, text, markup)


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="worker")
    router.message.filter(HasRole(Role.worker, Role.grid_head))
    router.message.register(my_grid, F.text == labels.MY_GRID)
    router.callback_query.register(claims_list, HomeCb.filter(F.action == "list"))
    router.callback_query.register(claim_decided, HomeCb.filter(F.action.in_({"ok", "no"})))
    return router
