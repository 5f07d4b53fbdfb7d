"""Community staff and district administrators: overview, invites, removing roles, the access log."""

from __future__ import annotations

from collections.abc import Iterable

from aiogram import Bot, F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import PoI18n
from bot.services import audit, org, roles
from bot.services import staff as staff_service
from handlers import labels
from handlers.callbacks import AccessLogCb, InviteCb, RevokeCb
from handlers.filters import HasRole
from handlers.keyboards import with_nav
from handlers.render import esc, local_time, role_label
from handlers.worker import grid_lines
from models import AccessAction, Role, User, utcnow


async def my_community(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    communities = await staff_service.my_communities(session, user, i18n.current_locale)
    parts = []
    for c in communities:
        parts.append(f"🏘️ <b>{esc(c.community)}</b>")
        parts.extend(grid_lines(c.grids))
    units = await org.alliances(session, user, i18n.current_locale)
    if units:
        parts.append(_("🤝 <b>Alliance units</b>") + "\n" + "\n".join(
            f"• {esc(a.name)}" + (f" · {esc(a.contact)}" if a.contact else "") + (f"\n  {esc(a.offers)}" if a.offers
                                                                                   else "") for a in units))
    await message.answer("\n\n".join(parts))


async def invite_start(message: Message, user: User) -> None:
    kb = InlineKeyboardBuilder()
    for role in staff_service.invitable_roles(user):
        kb.button(text=role_label(role), callback_data=InviteCb(role=role.value))
    kb.adjust(1)
    await message.answer(_("Whom do you want to invite?"), reply_markup=with_nav(kb.as_markup()))


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Answer the press and show ``text`` in place of the message it came from."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


async def _ask(query: CallbackQuery, prompt: str, choices: Iterable[tuple[str, CallbackData]]) -> None:
    """Answer the press and ask ``prompt`` in place of its message, one choice a line."""
    kb = InlineKeyboardBuilder()
    for text, data in choices:
        kb.button(text=text, callback_data=data)
    kb.adjust(1)
    await _show(query, prompt, kb.as_markup())


# Callback queries are not filtered by role here: a forged button reaches the
# service, which refuses it.
async def invite_role(query: CallbackQuery, callback_data: InviteCb, session: AsyncSession, user: User,
                      i18n: PoI18n) -> None:
    role = staff_service.parse_role(callback_data.role)
    scopes = await staff_service.invite_scopes(session, user, role, i18n.current_locale)
    await _ask(query, _("Invite a {role}: where?").format(role=role_label(role)),
               ((option.name, InviteCb(role=role.value, scope=option.id)) for option in scopes))


async def invite_scope(query: CallbackQuery, callback_data: InviteCb, session: AsyncSession, user: User,
                       bot: Bot, i18n: PoI18n, settings) -> None:  # type: ignore[no-untyped-def]
    role = staff_service.parse_role(callback_data.role)
    invite = await staff_service.invite_as(session, user, role, callback_data.scope)
    await session.commit()
    me = await bot.me()
    link = f"https://t.me/{me.username}?start={invite.payload}"
    await _show(query, _("Send this link to the new {role}. It works once, until {expires}.\n\n{link}").format(
        role=role_label(role), expires=local_time(invite.expires_at, settings.tz), link=esc(link)))


async def revoke_start(message: Message, session: AsyncSession, user: User) -> None:
    people = await roles.revocable_people(session, user)
    if not people:
        await message.answer(_("Nobody holds a role you can remove."))
        return
    kb = InlineKeyboardBuilder()
    for person in people:
        kb.button(text=person.name, callback_data=RevokeCb(user=person.id))
    kb.adjust(2)
    await message.answer(_("Whose role do you want to remove?"), reply_markup=with_nav(kb.as_markup()))


async def revoke_person(query: CallbackQuery, callback_data: RevokeCb, session: AsyncSession, user: User,
                        i18n: PoI18n) -> None:
    name, grants = await roles.revocable_grants(session, user, callback_data.user, i18n.current_locale)
    await _ask(query, _("Which role of {name} do you want to remove?").format(name=esc(name)),
               ((f"{role_label(g.role)} · {g.scope}", RevokeCb(user=callback_data.user, grant=g.id)) for g in grants))


async def revoke_confirm(query: CallbackQuery, callback_data: RevokeCb, session: AsyncSession, user: User,
                         i18n: PoI18n) -> None:
    name, grants = await roles.revocable_grants(session, user, callback_data.user, i18n.current_locale)
    grant = next((g for g in grants if g.id == callback_data.grant), None)
    if grant is None:
        await query.answer(_("That person holds no role you can remove."), show_alert=True)
        return
    await _ask(query, _("Remove {name} as {role} of {scope}? Their open cases there go back to the grid's queue, "
                        "and they stop seeing residents' phones at once.").format(
        name=esc(name), role=role_label(grant.role), scope=esc(grant.scope)),
        [(_("➖ Remove"), RevokeCb(user=callback_data.user, grant=grant.id, ok=1))])


async def revoke_do(query: CallbackQuery, callback_data: RevokeCb, session: AsyncSession, user: User,
                    settings) -> None:  # type: ignore[no-untyped-def]
    name, done = await roles.revoke_grant(session, settings, user, callback_data.grant, utcnow())
    await session.commit()
    text = _("Removed: {name} is no longer {role} of {scope}.").format(
        name=esc(name), role=role_label(done.role), scope=esc(done.scope_code))
    if done.cases_returned:
        text += "\n" + ngettext("{count} open case went back to the grid's queue.",
                                "{count} open cases went back to the grid's queue.",
                                done.cases_returned).format(count=done.cases_returned)
    await _show(query, text)


def _log_line(line: audit.LogLine, tz) -> str:  # type: ignore[no-untyped-def]
    actor = esc(line.actor) if line.actor else _("the operator")
    subject = esc(line.subject) if line.subject else "—"
    when = local_time(line.at, tz)
    if line.action == AccessAction.phone_viewed and line.object_type == "appointment":
        return "📞 " + _("{when} · {actor} saw the phone of {subject} (appointment {id})").format(
            when=when, actor=actor, subject=subject, id=line.object_id)
    if line.action == AccessAction.phone_viewed:
        return "📞 " + _("{when} · {actor} saw the phone of {subject} (case {id})").format(
            when=when, actor=actor, subject=subject, id=line.object_id)
    if line.action == AccessAction.tags_viewed:
        where = (_("household {id}") if line.object_type == "household" else _("building {id}")).format(
            id=line.object_id)
        return "🏷️ " + _("{when} · {actor} saw care tags: {where}").format(when=when, actor=actor, where=where)
    if line.action == AccessAction.role_granted:
        return "➕ " + _("{when} · {subject} given {what} by {actor}").format(
            when=when, subject=subject, what=esc(line.detail), actor=actor)
    return "➖ " + _("{when} · {subject} lost {what}, by {actor}").format(
        when=when, subject=subject, what=esc(line.detail), actor=actor)


async def _log_page(session: AsyncSession, user: User, page: int, settings):  # type: ignore[no-untyped-def]
    lines, older = await audit.read_log(session, user, page=page)
    text = _("🔍 Access log, most recent first:") + "\n\n" + (
        "\n".join(_log_line(line, settings.tz) for line in lines) if lines else _("Nothing recorded."))
    kb = InlineKeyboardBuilder()
    if page > 0:
        kb.button(text=_("◀️ Newer"), callback_data=AccessLogCb(page=page - 1))
    if older:
        kb.button(text=_("Older ▶️"), callback_data=AccessLogCb(page=page + 1))
    return text, kb.as_markup()


async def access_log(message: Message, session: AsyncSession, user: User, settings) -> None:  # type: ignore[no-untyped-def]
    text, markup = await _log_page(session, user, 0, settings)
    await message.answer(text, reply_markup=markup)


async def access_log_page(query: CallbackQuery, callback_data: AccessLogCb, session: AsyncSession, user: User,
                          settings) -> None:  # type: ignore[no-untyped-def]
    text, markup = await _log_page(session, user, callback_data.page, settings)
    await _show(query, text, markup)


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="staff")
    router.message.filter(HasRole(Role.staff, Role.admin))
    router.message.register(my_community, F.text == labels.MY_COMMUNITY)
    router.message.register(invite_start, F.text == labels.INVITE)
    router.callback_query.register(invite_role, InviteCb.filter(F.scope == 0))
    router.callback_query.register(invite_scope, InviteCb.filter(F.scope != 0))
    router.message.register(revoke_start, F.text == labels.REVOKE)
    router.callback_query.register(revoke_person, RevokeCb.filter(F.grant == 0))
    router.callback_query.register(revoke_confirm, RevokeCb.filter((F.grant != 0) & (F.ok == 0)))
    router.callback_query.register(revoke_do, RevokeCb.filter((F.grant != 0) & (F.ok == 1)))
    router.message.register(access_log, F.text == labels.ACCESS_LOG)
    router.callback_query.register(access_log_page, AccessLogCb.filter())
    return router
