"""Residents: ask for help (proxy errands), report a problem, or just type at the
menu; then follow their cases, answer "solved / not solved" and rate.

Intake is one conversation (see docs/cases.md)::

    pick an item → [a similar open case in the building? follow it instead]
    → [proxy: by when → what the worker may do] → collect: text, photos, voice,
    documents, location, in any order → ✅ Send → sent, number shown
    (typing at the menu starts at "collect": handlers/cases/menu.py)

The questions come first, so ✅ Send sends (issue 20); each has ⬅️ Back and ❌ Cancel.

Every piece is stored in the draft as it arrives and committed before the bot
answers; ❌ Cancel discards the draft, /cancel leaves it to be continued later.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases, family
from bot.services import users as user_service
from bot.services.dates import local_day, parse_date
from bot.services.errors import DomainError
from bot.services.escape import esc
from handlers import labels
from handlers.cases import card as cases_card
from handlers.cases import menu as cases_menu
from handlers.cases.flow import conclude, drop, finish, pressed
from handlers.cases.ui import (
    ASK_HELP,
    CANCEL,
    DONE,
    EMERGENCY,
    MY_CASES,
    REPORT,
    SEND,
    CaseCb,
    CaseChat,
    CaseIntake,
    CaseRate,
    HasHome,
    IntakeCb,
    brief_line,
    button,
    done_keyboard,
    intake_keyboard,
    rating_keyboard,
    rows,
    skip_keyboard,
    summary_text,
)
from handlers.common import show_menu
from handlers.keyboards import MenuLabel, nav_row, with_nav
from handlers.refusal import error_text
from handlers.resident import ask_place, needs_home
from handlers.routing import on_press
from models import CaseKind, ServiceKind, User, utcnow

AUTH_OPTIONS = 3  # what the resident may tap to authorise the worker (or they write their own)


def _auth_option(index: int) -> str:
    """One of the authorisations, in the resident's language (stored as they read it)."""
    return [_("Collect my documents and hand them in for me"), _("Fill in and submit the forms for me"),
            _("Only ask on my behalf and tell me the answer")][index]


# ------------------------------------------------------------------ starting

async def _who(session: AsyncSession, user: User, state: FSMContext) -> User:
    """Whom this intake is for: the user, or the resident they act for as a family member
    (the conversation's ``for``; checked by bot.services.family on every step)."""
    return await family.principal(session, user, int((await state.get_data()).get("for", 0)))


async def _begin(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                 kind: ServiceKind, settings: Settings, *, for_id: int | None = None) -> None:
    """Start an intake; ``for_id``: for whom (0: oneself), asked first when the user acts for
    family members (one tap: "myself" or a name)."""
    await state.clear()
    if for_id is None:
        people = await family.principals(session, user)
        if people:
            action = "forp" if kind == ServiceKind.proxy else "forr"
            mine = [button(_("👤 For myself"), IntakeCb(action=action, id=0))] if user.building_id else []
            await message.answer(_("Who is it for?"), reply_markup=with_nav(rows(
                *mine, *(button(_("👪 For {name}").format(name=p.name)[:28], IntakeCb(action=action, id=p.user_id or 0))
                         for p in people))))
            return
        for_id = 0
    who = await family.principal(session, user, for_id)
    await state.set_data({"for": for_id})
    if who is user and (needs_home(user) or user.building_id is None):
        await ask_place(message, state, session, i18n.current_locale, user, settings)
        return
    draft = await cases.pending_draft(session, who)
    if draft is not None:
        summary = await cases.summary(session, draft, i18n.current_locale)
        if not summary.empty:
            await message.answer(
                _("You have a request you have not sent yet ({items}). Continue it, or discard it and start "
                  "again?").format(items=summary_text(summary)),
                reply_markup=with_nav(rows(button(_("✏️ Continue it"), IntakeCb(action="resume", id=draft.id)),
                                           button(_("🗑 Discard it"), IntakeCb(action="discard", id=draft.id)))))
            return
    text, markup = await _catalogue(session, kind, i18n.current_locale)
    await message.answer(text, reply_markup=markup)


async def _catalogue(session: AsyncSession, kind: ServiceKind, locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """The list of items to ask for or report, with ⬅️ Back (to the menu) and ❌ Cancel."""
    options = await cases.catalogue(session, kind, locale)
    prompt = _("What can we do for you? Choose one:") if kind == ServiceKind.proxy else \
        _("What kind of problem? Choose one:")
    return prompt, with_nav(rows(*(button(o.name, IntakeCb(action="svc", id=o.id)) for o in options)))


async def ask_help(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                   settings: Settings) -> None:
    await _begin(message, session, user, state, i18n, ServiceKind.proxy, settings)


async def report_problem(message: Message, session: AsyncSession, user: User, state: FSMContext,
                         i18n: PoI18n, settings: Settings) -> None:
    await _begin(message, session, user, state, i18n, ServiceKind.report, settings)


async def begin_for(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                    settings: Settings, *, proxy: bool, for_id: int) -> None:
    """Ask for help (``proxy``) or report a problem for ``for_id`` (0: oneself): the family menu's entry."""
    await _begin(message, session, user, state, i18n, ServiceKind.proxy if proxy else ServiceKind.report,
                 settings, for_id=for_id)


async def for_picked(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                     state: FSMContext, i18n: PoI18n, settings: Settings) -> None:
    """"For myself" or "for <name>" at the start of an intake."""
    await family.principal(session, user, callback_data.id)  # refused here, as an alert, for anyone else
    await query.answer()
    if isinstance(query.message, Message):
        await begin_for(query.message, session, user, state, i18n, settings, proxy=callback_data.action == "forp",
                        for_id=callback_data.id)


async def service_picked(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                         state: FSMContext, i18n: PoI18n, settings: Settings) -> None:
    draft = await cases.start_for_service(session, await _who(session, user, state), callback_data.id, utcnow())
    await session.commit()
    await state.set_state(CaseIntake.collect)
    await state.update_data(draft=draft.id)
    await query.answer()
    summary = await cases.summary(session, draft, i18n.current_locale)
    if isinstance(query.message, Message):
        await query.message.edit_text("✅ " + esc(summary.service or ""))
        await _prepare(query.message, session, user, state, i18n, settings)


def _step_nav(draft_id: int, back: int) -> list[InlineKeyboardButton]:
    """⬅️ Back (``back``: 0 the list of items, 1 the "by when" question) and ❌ Cancel of an intake question."""
    return nav_row(IntakeCb(action="back", id=back), IntakeCb(action="cancel", id=draft_id))


async def _prepare(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                   settings: Settings) -> None:
    """Before she writes: a similar case to follow instead? [proxy: by when, what the worker may do];
    then the invitation to write, with ✅ Send, which then sends (issue 20: Send asked more questions)."""
    data = await state.get_data()
    who = await _who(session, user, state)
    draft = await cases.pending_draft(session, who)
    if draft is None or draft.id != int(data.get("draft", 0)):
        await state.clear()
        await show_menu(message, user, error_text(DomainError("draft")))
        return
    if not data.get("similar_seen"):
        await state.update_data(similar_seen=True)
        similar = await cases.similar_cases(session, who, draft.id, utcnow(), locale=i18n.current_locale)
        if similar:
            lines = [_("This looks like a case already open in your building:")]
            lines += [f"• {esc(c.number)} · {esc(c.category)} ({cases.status_label(_, c.status)})" for c in similar]
            lines.append(_("Follow it instead? You will hear when it is solved. Or go on with yours."))
            await message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=[
                *([button(_("👀 Follow {number}").format(number=c.number), IntakeCb(action="follow", id=c.id))]
                  for c in similar),
                [button(_("➕ Go on with mine"), IntakeCb(action="anyway"))], _step_nav(draft.id, 0)]))
            return
    if draft.kind == CaseKind.proxy and not data.get("asked_when"):
        await state.set_state(CaseIntake.when)
        await message.answer(
            _("By when do you need it? Tap one, or type a date like 12-24."),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[
                [button(_("As soon as possible"), IntakeCb(action="when", id=0))],
                [button(_("Within 3 days"), IntakeCb(action="when", id=3))],
                [button(_("Within a week"), IntakeCb(action="when", id=7))], _step_nav(draft.id, 0)]))
        return
    if draft.kind == CaseKind.proxy and not draft.authorisation:
        await state.set_state(CaseIntake.authorise)
        await message.answer(
            _("What may your grid worker do on your behalf? Tap one, or write it in your own words."),
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[
                *([button(_auth_option(i), IntakeCb(action="auth", id=i))] for i in range(AUTH_OPTIONS)),
                _step_nav(draft.id, 1)]))
        return
    await state.set_state(CaseIntake.collect)
    if draft.kind == CaseKind.proxy:
        prompt = _("Tell me what you need done, and anything we should know. Type it, send a voice message, "
                   "or photos of your documents. Then tap ✅ Send.")
    else:
        prompt = _("Tell me what the problem is and where. Type it, send a voice message, photos or your "
                   "location. Then tap ✅ Send.")
    await message.answer(prompt, reply_markup=intake_keyboard())


async def step_back(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                    state: FSMContext, i18n: PoI18n, settings: Settings) -> None:
    """⬅️ Back from an intake question: to the "by when" question, or to the list of items (the empty
    request is dropped)."""
    who = await _who(session, user, state)
    draft = await cases.pending_draft(session, who)
    if draft is None or draft.id != await _draft_id(state):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    if callback_data.id == 1 and draft.kind == CaseKind.proxy:
        await state.update_data(asked_when=False)
        if (message := await pressed(query, session)) is not None:
            await message.edit_text(_("⬅️ Back"))
            await _prepare(message, session, user, state, i18n, settings)
        return
    kind = ServiceKind.proxy if draft.kind == CaseKind.proxy else ServiceKind.report
    await cases.discard_draft(session, who, draft.id)
    await state.set_data({"for": (await state.get_data()).get("for", 0)})  # still for the same person
    if (message := await pressed(query, session)) is not None:
        text, markup = await _catalogue(session, kind, i18n.current_locale)
        await message.edit_text(text, reply_markup=markup)


async def step_cancel(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                      state: FSMContext) -> None:
    """❌ Cancel of an intake question: the request is discarded, the menu comes back."""
    try:
        await cases.discard_draft(session, await _who(session, user, state), callback_data.id)
    except DomainError:
        pass  # already sent or gone: cancelling still ends the intake
    await state.clear()
    if (message := await pressed(query, session)) is not None:
        await message.edit_text(_("Cancelled. Nothing was sent."))
        await show_menu(message, user)


async def resume(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                 state: FSMContext) -> None:
    draft = await cases.pending_draft(session, await _who(session, user, state))
    if draft is None or draft.id != callback_data.id:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await state.set_state(CaseIntake.collect)
    await state.update_data(draft=draft.id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Go on: add more, or tap ✅ Send."), reply_markup=intake_keyboard())


async def discard(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                  state: FSMContext) -> None:
    await cases.discard_draft(session, await _who(session, user, state), callback_data.id)
    await state.clear()
    if (message := await pressed(query, session)) is not None:
        await show_menu(message, user, _("Discarded. Choose from the menu to start again."))


# ------------------------------------------------------------------ collecting

async def _draft_id(state: FSMContext) -> int:
    return int((await state.get_data()).get("draft", 0))


async def _collected(message: Message, session: AsyncSession, user: User, state: FSMContext,
                     add: Callable[[User, int], Awaitable[cases.DraftSummary]]) -> None:
    """One more piece of the draft (``add(resident, draft_id)``), then "got it"."""
    try:
        summary = await add(await _who(session, user, state), await _draft_id(state))
    except DomainError as err:
        if err.code not in ("draft", "already_sent"):
            raise  # the refusal path answers; the resident goes on writing
        await drop(message, state, err, user)  # the draft is gone: the intake ends
        return
    await session.commit()
    await message.answer(_("📥 Got it ({items}). Add more, or tap ✅ Send.").format(items=summary_text(summary)))


async def collect_text(message: Message, session: AsyncSession, user: User, state: FSMContext,
                       i18n: PoI18n) -> None:
    await _collected(message, session, user, state,
                     lambda who, draft_id: cases.add_text(session, who, draft_id, message.text or "", i18n.current_locale))


async def collect_file(message: Message, session: AsyncSession, user: User, state: FSMContext,
                       i18n: PoI18n) -> None:
    ref = cases_card.file_ref(message)
    if ref is None:
        await message.answer(_("I cannot keep that. Please send text, photos, voice messages, documents or a "
                               "location."))
        return
    await _collected(message, session, user, state,
                     lambda who, draft_id: cases.add_file(session, who, draft_id, ref, i18n.current_locale, utcnow()))


async def collect_location(message: Message, session: AsyncSession, user: User, state: FSMContext,
                           i18n: PoI18n) -> None:
    location = message.location
    assert location is not None
    await _collected(message, session, user, state,
                     lambda who, draft_id: cases.add_location(session, who, draft_id, location.latitude,
                                                         location.longitude, i18n.current_locale, utcnow()))


async def collect_contact(message: Message, session: AsyncSession, user: User) -> None:
    """A phone shared during intake is stored once, on the profile."""
    assert message.contact is not None
    user_service.set_phone(user, message.contact.phone_number, contact_user_id=message.contact.user_id)
    await session.commit()
    await message.answer(_("Thank you, your phone number is saved. Your grid worker can call you back."))


async def intake_cancel(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    draft_id = await _draft_id(state)
    try:
        await cases.discard_draft(session, await _who(session, user, state), draft_id)
    except DomainError:
        pass  # already sent or gone: nothing to discard, and cancelling still ends the intake
    await finish(message, session, user, state, _("Cancelled. Nothing was sent."))


async def send(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
               settings: Settings) -> None:
    await _advance(message, session, user, state, i18n, settings)


async def _advance(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                   settings: Settings) -> None:
    """✅ Send: sends what she wrote (the questions came before); empty, she is asked to write first."""
    who = await _who(session, user, state)
    draft = await cases.pending_draft(session, who)
    if draft is None or draft.id != await _draft_id(state):
        await state.clear()
        await show_menu(message, user, error_text(DomainError("draft")))
        return
    if draft.kind == CaseKind.proxy and not draft.authorisation:  # Send before the questions were answered
        await _prepare(message, session, user, state, i18n, settings)
        return
    summary = await cases.summary(session, draft, i18n.current_locale)
    if summary.empty:
        await state.set_state(CaseIntake.collect)
        await message.answer(error_text(DomainError("draft_empty")), reply_markup=intake_keyboard())
        return
    await _submit(message, session, user, state, settings, emergency=False)


async def _submit(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings, *,
                  emergency: bool) -> None:
    try:
        case = await cases.submit(session, settings, await _who(session, user, state), await _draft_id(state),
                                  utcnow(), emergency=emergency, by=user)
    except DomainError as err:  # the intake goes back to collecting, or ends when the draft is gone
        if err.code in ("draft_empty", "authorisation_missing"):
            await state.set_state(CaseIntake.collect)
            await message.answer(error_text(err), reply_markup=intake_keyboard())
        elif err.code in ("draft", "already_sent"):
            await drop(message, state, err, user)
        else:
            await message.answer(error_text(err))
        return
    if emergency:
        text = _("🆘 Alert sent: case <b>{number}</b>. Your grid team, the grid head and the community secretary "
                 "have been told, and we keep alerting until someone takes charge.").format(number=case.number)
    else:
        text = _("✅ Sent! Your case number is <b>{number}</b>.\nA grid worker should accept it by {accept} and "
                 "finish it by {resolve}.\nYou will get a message at each step; see it any time in 📂 My cases.").format(
            number=case.number, accept=cases.when(case.accept_due_at, settings.tz),
            resolve=cases.when(case.resolve_due_at, settings.tz))
    await finish(message, session, user, state, text)


async def when_picked(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                      state: FSMContext, i18n: PoI18n, settings: Settings) -> None:
    today = local_day(utcnow(), settings.tz)
    needed = None if callback_data.id == 0 else today + timedelta(days=min(max(callback_data.id, 1), 30))
    await cases.set_needed_by(session, await _who(session, user, state), await _draft_id(state), needed, today)
    await state.update_data(asked_when=True)
    if (message := await pressed(query, session)) is not None:
        await message.edit_text("🗓 " + (needed.isoformat() if needed else _("As soon as possible")))
        await _prepare(message, session, user, state, i18n, settings)


async def when_typed(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                     settings: Settings) -> None:
    today = local_day(utcnow(), settings.tz)
    needed = parse_date(message.text or "", today)
    await cases.set_needed_by(session, await _who(session, user, state), await _draft_id(state), needed, today)
    await session.commit()
    await state.update_data(asked_when=True)
    await _prepare(message, session, user, state, i18n, settings)


async def auth_picked(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                      state: FSMContext, i18n: PoI18n, settings: Settings) -> None:
    if not 0 <= callback_data.id < AUTH_OPTIONS:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    text = _auth_option(callback_data.id)
    await cases.set_authorisation(session, await _who(session, user, state), await _draft_id(state), text)
    if (message := await pressed(query, session)) is not None:
        await message.edit_text("✍️ " + esc(text))
        await _prepare(message, session, user, state, i18n, settings)


async def auth_typed(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                     settings: Settings) -> None:
    await cases.set_authorisation(session, await _who(session, user, state), await _draft_id(state),
                                  message.text or "")
    await session.commit()
    await _prepare(message, session, user, state, i18n, settings)


async def follow(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                 state: FSMContext, settings: Settings) -> None:
    case = await cases.follow_instead(session, settings, await _who(session, user, state), await _draft_id(state),
                                      callback_data.id, utcnow())
    await state.clear()
    if (message := await pressed(query, session)) is not None:
        await message.edit_text(_("👀 You now follow case {number}; what you sent was added to it. You will hear "
                                  "when it is solved.").format(number=case.number))
        await show_menu(message, user)


async def go_on(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                settings: Settings) -> None:
    """Not the same as the similar case: she goes on with her own request."""
    if await _draft_id(state) == 0:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    if (message := await pressed(query, session)) is not None:
        await message.edit_text(_("➕ Go on with mine"))
        await _prepare(message, session, user, state, i18n, settings)


async def intake_emergency(message: Message) -> None:
    """The emergency numbers first; one more tap alerts the grid team with this request."""
    await message.answer(cases.emergency_numbers(_) + "\n\n" + _("Shall I alert your grid team now?"),
                         reply_markup=rows(button(_("🆘 Yes, alert them now"), IntakeCb(action="emg"))))


async def intake_emergency_confirm(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                                   settings: Settings) -> None:
    if await state.get_state() not in (CaseIntake.collect.state, CaseIntake.when.state, CaseIntake.authorise.state):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await _submit(query.message, session, user, state, settings, emergency=True)


async def stale_label(message: Message, user: User, state: FSMContext) -> None:
    """✅ Send / ❌ Cancel / ✅ Done from a keyboard left over after the conversation ended
    (or typed by hand: handlers/labels.TypedLabels).  ❌ Cancel also drops what a step left
    in the conversation's data (a booking's days on screen: handlers/appointments/ui.on_screen)."""
    if message.text == CANCEL:
        await state.clear()
        await show_menu(message, user, _("Cancelled."))
        return
    await show_menu(message, user, _("Nothing is waiting to be sent. Choose from the menu below."))


async def emergency_at_menu(message: Message, session: AsyncSession, user: User, state: FSMContext,
                            i18n: PoI18n) -> None:
    """🆘 from a leftover keyboard: the same as during intake (the numbers first, then one tap)."""
    draft = await cases.pending_draft(session, user)
    try:
        if draft is None:
            draft = await cases.start_draft(session, user, kind=CaseKind.request, service_id=None, now=utcnow())
    except DomainError as err:  # the emergency numbers still come first, whatever went wrong
        await message.answer(cases.emergency_numbers(_) + "\n\n" + error_text(err))
        return
    await session.commit()
    await state.set_state(CaseIntake.collect)
    await state.set_data({"draft": draft.id})
    await intake_emergency(message)


# ------------------------------------------------------------------ my cases and the loop

async def my_cases(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                   settings: Settings) -> None:
    await state.clear()
    items = await cases.my_cases(session, user, i18n.current_locale, utcnow())
    if not items:
        await message.answer(_("You have no cases yet. Tap 🙋 Ask for help or 📝 Report a problem, or simply "
                               "type what you need."))
        return
    await message.answer(_("Your cases (tap one for details):"), reply_markup=with_nav(rows(
        *(button(("👀 " if b.following else "") + brief_line(b, settings.tz), CaseCb(action="view", id=b.id))
          for b in items))))


async def solved(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                 settings: Settings) -> None:
    case = await cases.confirm(session, settings, user, callback_data.id, utcnow())
    if case.resident_id != user.id:  # a colleague checked a problem found on patrol: nothing to rate
        if (message := await pressed(query, session)) is not None:
            await message.answer(_("👍 Case {number} is closed: you confirmed it is solved.").format(
                number=case.number))
        return
    if (message := await pressed(query, session)) is not None:
        await message.answer(
            _("🙏 Thank you! Case {number} is closed. How was the service?").format(number=case.number),
            reply_markup=rating_keyboard(case.id))


async def not_solved(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                     state: FSMContext, settings: Settings) -> None:
    case = await cases.reopen(session, settings, user, callback_data.id, utcnow())
    if case.resident_id != user.id:  # a colleague checked a problem found on patrol
        if (message := await pressed(query, session)) is not None:
            await message.answer(_("↩️ Case {number} is open again; the worker handling it has been told.").format(
                number=case.number))
        return
    await state.set_state(CaseChat.talk)
    await state.set_data({"chat_case": case.id})
    if (message := await pressed(query, session)) is not None:
        await message.answer(
            _("Case {number} is open again and your grid worker has been told. Tell them what is still wrong "
              "(text, photo or voice), then tap ✅ Done.").format(number=case.number),
            reply_markup=done_keyboard())


async def rate_prompt(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User) -> None:
    await cases.rateable(session, user, callback_data.id)  # a forged or stale button is refused here
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("How was the service?"), reply_markup=rating_keyboard(callback_data.id))


async def rated(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User, state: FSMContext,
                settings: Settings) -> None:
    case = await cases.rate(session, settings, user, callback_data.id, callback_data.arg, utcnow())
    await state.set_state(CaseRate.comment)
    await state.set_data({"rate_case": case.id})
    if (message := await pressed(query, session)) is not None:
        await message.edit_text(_("Your rating: {stars}").format(stars=cases.stars(callback_data.arg)))
        await message.answer(_("Thank you! Anything you want to add? Write a comment, or tap Skip."),
                                   reply_markup=skip_keyboard())


async def rating_comment(message: Message, session: AsyncSession, user: User, state: FSMContext,
                         settings: Settings) -> None:
    case_id = int((await state.get_data()).get("rate_case", 0))
    # A comment too long may be written shorter; any other refusal ends the conversation.
    await conclude(message, session, user, state,
                   cases.comment_rating(session, settings, user, case_id, message.text or "", utcnow()),
                   _("Thank you, your comment was passed on."), retype={"text_too_long"})


async def rating_skip(message: Message, user: User, state: FSMContext) -> None:
    await state.clear()
    await show_menu(message, user, _("Thank you!"))


async def withdraw_ask(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User) -> None:
    await cases.withdrawable(session, user, callback_data.id)  # a forged or stale button is refused here
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Withdraw this case? Your grid worker will stop working on it."),
                                   reply_markup=rows(button(_("🗑 Yes, withdraw it"),
                                                            CaseCb(action="wdy", id=callback_data.id))))


async def withdraw(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                   settings: Settings) -> None:
    case = await cases.withdraw(session, settings, user, callback_data.id, utcnow())
    if (message := await pressed(query, session)) is not None:
        await message.edit_text(_("Case {number} was withdrawn.").format(number=case.number))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="cases_resident")
    cases_card.register(router)
    cases_menu.register_location(router)
    router.message.register(ask_help, F.text == ASK_HELP)
    router.message.register(report_problem, F.text == REPORT)
    router.message.register(my_cases, F.text == MY_CASES)
    router.message.register(my_cases, Command("mycases"))
    on_press(router, IntakeCb, {"forp": for_picked, "forr": for_picked, "svc": service_picked, "resume": resume, "discard": discard, "when": when_picked,
                                "auth": auth_picked, "follow": follow, "anyway": go_on,
                                "back": step_back, "cancel": step_cancel,
                                "emg": intake_emergency_confirm})
    on_press(router, CaseCb, {"ok": solved, "nok": not_solved, "ratep": rate_prompt, "rate": rated,
                              "wd": withdraw_ask, "wdy": withdraw})
    intake = StateFilter(CaseIntake.collect, CaseIntake.when, CaseIntake.authorise)
    router.message.register(stale_label, StateFilter(None), F.text.in_((SEND, CANCEL, DONE)))
    router.message.register(emergency_at_menu, StateFilter(None), F.text == EMERGENCY, HasHome())
    router.message.register(send, intake, F.text == SEND)
    router.message.register(intake_cancel, intake, F.text == CANCEL)
    router.message.register(intake_emergency, intake, F.text == EMERGENCY)
    router.message.register(when_typed, CaseIntake.when, F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(auth_typed, CaseIntake.authorise, F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(collect_text, CaseIntake.collect, F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(collect_location, intake, F.location)
    router.message.register(collect_contact, intake, F.contact)
    router.message.register(collect_file, intake, F.photo | F.voice | F.audio | F.video | F.video_note
                            | F.document)
    router.message.register(rating_skip, CaseRate.comment, F.text == labels.SKIP)
    router.message.register(rating_comment, CaseRate.comment, F.text, ~F.text.startswith("/"), ~MenuLabel())
    return router
