"""Community staff and district administrators: overview and invites."""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import PoI18n
from bot.services import staff as staff_service
from handlers import labels
from handlers.callbacks import InviteCb
from handlers.filters import HasRole
from handlers.render import esc, local_time, role_label
from handlers.worker import grid_lines
from models import Role, User


async def my_community(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    communities = await staff_service.my_communities(session, user, i18n.current_locale)
    parts = []
    for c in communities:
        parts.append(f"🏘️ <b>{esc(c.community)}</b>")
        parts.extend(grid_lines(c.grids))
    await message.answer("\n\n".join(parts))


async def invite_start(message: Message, user: User) -> None:
    kb = InlineKeyboardBuilder()
    for role in staff_service.invitable_roles(user):
        kb.button(text=role_label(role), callback_data=InviteCb(role=role.value))
    kb.adjust(1)
    await message.answer(_("Whom do you want to invite?"), reply_markup=kb.as_markup())


# Callback queries are not filtered by role here: a forged button reaches the
# service, which refuses it.
async def invite_role(query: CallbackQuery, callback_data: InviteCb, session: AsyncSession, user: User,
                      i18n: PoI18n) -> None:
    role = staff_service.parse_role(callback_data.role)
    scopes = await staff_service.invite_scopes(session, user, role, i18n.current_locale)
    kb = InlineKeyboardBuilder()
    for option in scopes:
        kb.button(text=option.name, callback_data=InviteCb(role=role.value, scope=option.id))
    kb.adjust(1)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("Invite a {role}: where?").format(role=role_label(role)),
                                      reply_markup=kb.as_markup())


async def invite_scope(query: CallbackQuery, callback_data: InviteCb, session: AsyncSession, user: User,
                       bot: Bot, i18n: PoI18n, settings) -> None:  # type: ignore[no-untyped-def]
    role = staff_service.parse_role(callback_data.role)
    invite = await staff_service.invite_as(session, user, role, callback_data.scope)
    await session.commit()
    me = await bot.me()
    link = f"https://t.me/{me.username}?start={invite.payload}"
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("Send this link to the new {role}. It works once, until {expires}.\n\n{link}").format(
                role=role_label(role), expires=local_time(invite.expires_at, settings.tz), link=esc(link)))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="staff")
    router.message.filter(HasRole(Role.staff, Role.admin))
    router.message.register(my_community, F.text == labels.MY_COMMUNITY)
    router.message.register(invite_start, F.text == labels.INVITE)
    router.callback_query.register(invite_role, InviteCb.filter(F.scope == 0))
    router.callback_query.register(invite_scope, InviteCb.filter(F.scope != 0))
    return router
