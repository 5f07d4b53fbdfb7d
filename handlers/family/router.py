"""Family delegates in chat (bot.services.family).

The resident: /family (or 👪 My family in 👤 My profile) → ➕ Link a family member
→ a one-time link to send them → "Allow them?" when they open it → ✅.  Their
family members are listed there, each with 🔚 End and 🔔/🔕 (do I still get
my own reminders).

The family member: opens the link (``/start fam_<token>``), waits for the
resident's ✅, then /family shows, per resident they act for, the few things
they can do in one tap: ask for help, report a problem, book, their cases,
their appointments, and 🔚 Stop.  Booking and asking for help from the main
menu ask "for whom?" first (handlers.appointments, handlers.cases).
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases, family
from bot.services import users as user_service
from bot.services.errors import DomainError
from bot.services.escape import esc
from handlers.appointments.resident import show_mine
from handlers.appointments.ui import ApCb
from handlers.cases.resident import begin_for
from handlers.cases.ui import CaseCb, brief_line
from handlers.family.ui import FamCb, FamJoinCb
from handlers.replies import edit_in_place
from handlers.resident import ask_consent
from models import FamilyLinkStatus, User, utcnow


def _btn(text: str, data: object) -> list[InlineKeyboardButton]:
    return [InlineKeyboardButton(text=text[:28], callback_data=data.pack())]  # type: ignore[attr-defined]


async def _menu(session: AsyncSession, user: User) -> tuple[str, InlineKeyboardMarkup]:
    lines: list[str] = []
    rows: list[list[InlineKeyboardButton]] = []
    for p in await family.principals(session, user):
        lines.append(_("👪 You act for <b>{name}</b>.").format(name=esc(p.name)))
        r = p.user_id or 0
        rows += [_btn(_("🙋 Ask for help for {name}").format(name=p.name), FamCb(action="help", r=r)),
                 _btn(_("📝 Report for {name}").format(name=p.name), FamCb(action="rep", r=r)),
                 _btn(_("📅 Book for {name}").format(name=p.name), ApCb(a="svcs", r=r)),
                 _btn(_("📂 Cases of {name}").format(name=p.name), FamCb(action="cases", r=r)),
                 _btn(_("🗓️ Appointments of {name}").format(name=p.name), FamCb(action="appts", r=r)),
                 _btn(_("🔚 Stop acting for {name}").format(name=p.name), FamCb(action="end", id=p.link_id))]
    if user.is_registered and user.building_id is not None:
        people = await family.delegates(session, user)
        if people:
            lines.append(_("Family members who can act for you:"))
        for p in people:
            waiting = p.status == FamilyLinkStatus.pending
            lines.append(f"• {esc(p.name)}" + (" " + _("(waiting for your answer)") if waiting else ""))
            if p.status == FamilyLinkStatus.active:
                rows.append(_btn(_("🔕 Only {name} gets reminders").format(name=p.name) if p.resident_copies
                                 else _("🔔 I get my reminders too"), FamCb(action="off" if p.resident_copies
                                                                             else "on", id=p.link_id)))
            rows.append(_btn(_("🔚 End the link with {name}").format(name=p.name), FamCb(action="end", id=p.link_id)))
        rows.append(_btn(_("➕ Link a family member"), FamCb(action="inv")))
        if not people:
            lines.append(_("A family member can act for you: ask for help, book appointments, get your "
                           "reminders. You can end it at any time."))
    if not lines:
        lines.append(_("Nobody has linked you as a family member yet. A resident links you from their "
                       "👤 My profile → 👪 My family."))
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


async def show(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    await state.clear()
    text, markup = await _menu(session, user)
    await message.answer(text, reply_markup=markup)


async def menu_pressed(query: CallbackQuery, session: AsyncSession, user: User) -> None:
    text, markup = await _menu(session, user)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(text, reply_markup=markup)


async def invite(query: CallbackQuery, session: AsyncSession, user: User, bot: Bot) -> None:
    token = await family.create_invite(session, user, utcnow())
    me = await bot.me()  # asked of Telegram once per process; the invite is committed with the answers
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Send this link to your family member. It works once, for 24 hours; "
                                     "when they open it, I ask you to confirm."))
        await query.message.answer(f"https://t.me/{me.username}?start={family.TOKEN_PREFIX}{token}")


async def opened(message: Message, command: CommandObject, session: AsyncSession, user: User, state: FSMContext,
                 settings: Settings, i18n: PoI18n) -> None:
    """A family member opened the deep link."""
    if user.locale is None:
        user.locale = i18n.current_locale
    payload = command.args or ""
    try:
        await family.open_invite(session, settings, user, payload, utcnow())
    except DomainError as err:
        if err.code != "privacy_consent_needed":
            raise
        await session.commit()  # the language, nothing else
        await message.answer(_("Before I link you, please read this and tap “I agree”."))
        # Agreeing goes on with this link: no need to find it and open it again.
        await ask_consent(message, state, settings.retention_days,
                          agree=FamJoinCb(token=payload.removeprefix(family.TOKEN_PREFIX)[:48]))
        return
    await state.clear()
    await session.commit()
    await message.answer(_("Thank you! I have asked your family member to confirm. You will get a message "
                           "when they do."))


async def agreed_and_opened(query: CallbackQuery, callback_data: FamJoinCb, session: AsyncSession, user: User,
                            state: FSMContext, settings: Settings) -> None:
    """Someone new agreed to the privacy notice shown when they opened a family link: the link is opened."""
    user_service.agree_to_privacy(user)
    await session.commit()  # the agreement stands even if the link has meanwhile expired
    await family.open_invite(session, settings, user, family.TOKEN_PREFIX + callback_data.token, utcnow())
    await state.clear()
    await session.commit()
    await query.answer(_("Thank you"))
    await edit_in_place(query, _("✅ You agreed to the privacy notice. You can read it again in 👤 My profile."), None)
    if isinstance(query.message, Message):
        await query.message.answer(_("Thank you! I have asked your family member to confirm. You will get a "
                                     "message when they do."))


async def answered(query: CallbackQuery, callback_data: FamCb, session: AsyncSession, user: User,
                   settings: Settings) -> None:
    allow = callback_data.action == "ok"
    await family.answer_request(session, settings, user, callback_data.id, allow, utcnow())
    await session.commit()
    await query.answer()
    await edit_in_place(query, _("✅ Allowed. See or end it any time in 👤 My profile → 👪 My family.") if allow
                        else _("Not allowed. Nothing changes."))


async def ended(query: CallbackQuery, callback_data: FamCb, session: AsyncSession, user: User,
                settings: Settings) -> None:
    await family.end(session, settings, user, callback_data.id, utcnow())
    await session.commit()
    await query.answer(_("The family link has ended."), show_alert=True)
    text, markup = await _menu(session, user)
    await edit_in_place(query, text, markup)


async def copies(query: CallbackQuery, callback_data: FamCb, session: AsyncSession, user: User) -> None:
    on = callback_data.action == "on"
    await family.set_copies(session, user, callback_data.id, on)
    await session.commit()
    await query.answer(_("You will get your reminders too.") if on
                       else _("Only your family member gets your reminders now."), show_alert=True)
    text, markup = await _menu(session, user)
    await edit_in_place(query, text, markup)


async def act(query: CallbackQuery, callback_data: FamCb, session: AsyncSession, user: User, state: FSMContext,
              settings: Settings, i18n: PoI18n) -> None:
    """A delegate's one-tap entries: ask for help, report, their cases, their appointments."""
    who = await family.principal(session, user, callback_data.r)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if callback_data.action in ("help", "rep"):
        await begin_for(query.message, session, user, state, i18n, settings, proxy=callback_data.action == "help",
                        for_id=who.id)
    elif callback_data.action == "appts":
        await show_mine(query.message, session, user, settings, i18n, resident_id=who.id)
    else:
        items = await cases.my_cases(session, who, i18n.current_locale, utcnow())
        if not items:
            await query.message.answer(_("{name} has no cases.").format(name=esc(who.first_name)))
            return
        await query.message.answer(_("Cases of {name} (tap one for details):").format(name=esc(who.first_name)),
                                   reply_markup=InlineKeyboardMarkup(inline_keyboard=[
                                       _btn(brief_line(b, settings.tz), CaseCb(action="view", id=b.id))
                                       for b in items]))


def create_router() -> Router:
    """This feature's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="family")
    router.message.register(opened, CommandStart(deep_link=True, magic=F.args.startswith(family.TOKEN_PREFIX)))
    router.message.register(show, Command("family"))
    router.callback_query.register(agreed_and_opened, FamJoinCb.filter())
    router.callback_query.register(menu_pressed, FamCb.filter(F.action == "menu"))
    router.callback_query.register(invite, FamCb.filter(F.action == "inv"))
    router.callback_query.register(answered, FamCb.filter(F.action.in_({"ok", "no"})))
    router.callback_query.register(ended, FamCb.filter(F.action == "end"))
    router.callback_query.register(copies, FamCb.filter(F.action.in_({"on", "off"})))
    router.callback_query.register(act, FamCb.filter(F.action.in_({"help", "rep", "cases", "appts"})))
    return router
