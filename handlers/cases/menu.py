"""A resident writing at the menu (no conversation going on) starts a case.

Text, a photo, a voice message, a document or a location sent at the menu by
a registered resident becomes a new request to their grid (or joins the
request they have not sent yet); they then add more and tap ✅ Send.  This
router sits just before ``fallback``; the location handler is registered on
the case router that precedes ``resident`` (see :func:`register_location`).

When she is in a conversation (a worker of one of her cases wrote to her
lately, or a case awaits her "solved?"), what she writes may be a reply: it is
kept as an unsent request and she chooses in one tap whether it goes to that
worker or becomes a new request (issue 20).  Nothing becomes a case without
her knowing.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases
from bot.services.errors import DomainError
from handlers.cases.card import file_ref
from handlers.cases.flow import pressed
from handlers.cases.ui import (
    CANCEL,
    CaseIntake,
    HasHome,
    IntakeCb,
    button,
    intake_keyboard,
    rows,
    summary_text,
)
from handlers.common import show_menu
from handlers.keyboards import MenuLabel, cancel_button
from handlers.refusal import error_text
from handlers.routing import on_press
from models import CaseKind, User, utcnow

MEDIA = F.photo | F.voice | F.audio | F.video | F.video_note | F.document


async def _keep(message: Message, session: AsyncSession, user: User, draft_id: int,
                locale: str) -> cases.DraftSummary:
    """The message's piece (a place, a file, words) added to the unsent request."""
    now = utcnow()
    if message.location is not None:
        return await cases.add_location(session, user, draft_id, message.location.latitude,
                                        message.location.longitude, locale, now)
    if (ref := file_ref(message)) is not None:
        return await cases.add_file(session, user, draft_id, ref, locale, now)
    return await cases.add_text(session, user, draft_id, message.text or "", locale)


async def free_message(message: Message, session: AsyncSession, user: User, state: FSMContext,
                       i18n: PoI18n) -> None:
    locale, now = i18n.current_locale, utcnow()
    draft = await cases.pending_draft(session, user)
    resumed = draft is not None
    talk = None if resumed else await cases.open_conversation(session, user, now)
    if draft is None:
        draft = await cases.start_draft(session, user, kind=CaseKind.request, service_id=None, now=now)
    summary = await _keep(message, session, user, draft.id, locale)
    await session.commit()
    if talk is not None:
        await state.set_state(CaseIntake.route)
        await state.set_data({"draft": draft.id, "talk": talk.case_id, "talk_number": talk.number})
        await _ask_route(message, talk.number, talk.case_id, draft.id)
        return
    await state.set_state(CaseIntake.collect)
    await state.set_data({"draft": draft.id})
    if resumed:
        text = _("📥 Added to the request you have not sent yet ({items}). Add more, or tap ✅ Send.").format(
            items=summary_text(summary))
    else:
        text = _("📥 I have written this down as a new request to your grid team. Add photos, a voice message or "
                 "your location if it helps, then tap ✅ Send. (❌ Cancel if you did not mean to.)")
    await message.answer(text, reply_markup=intake_keyboard())


async def _ask_route(message: Message, number: str, case_id: int, draft_id: int) -> None:
    await message.answer(
        _("Is this for your grid worker about case {number}, or a new request?").format(number=number),
        reply_markup=rows(button(_("💬 To worker · {number}").format(number=number),
                                 IntakeCb(action="talk", id=case_id)),
                          button(_("🆕 A new request"), IntakeCb(action="new", id=draft_id)),
                          cancel_button(IntakeCb(action="drop", id=draft_id))))


async def route_more(message: Message, session: AsyncSession, user: User, state: FSMContext,
                     i18n: PoI18n) -> None:
    """More words or files before she chose: kept with the rest, and the question again."""
    data = await state.get_data()
    draft_id = int(data.get("draft", 0))
    try:
        await _keep(message, session, user, draft_id, i18n.current_locale)
    except DomainError as err:
        if err.code not in ("draft", "already_sent"):
            raise  # the refusal path answers; the question stays
        await state.clear()
        await show_menu(message, user, error_text(err))
        return
    await session.commit()
    await _ask_route(message, str(data.get("talk_number", "")), int(data.get("talk", 0)), draft_id)


async def route_cancel(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    """❌ Cancel typed (a keyboard left over) while the question is open: the same as its button."""
    await _discard(session, user, state, int((await state.get_data()).get("draft", 0)))
    await show_menu(message, user, _("Cancelled. Nothing was sent."))


async def _discard(session: AsyncSession, user: User, state: FSMContext, draft_id: int) -> None:
    try:
        await cases.discard_draft(session, user, draft_id)
    except DomainError:
        pass  # already sent or gone: nothing to discard, and cancelling still ends the question
    await session.commit()
    await state.clear()


async def _routed_draft(query: CallbackQuery, state: FSMContext) -> int | None:
    """The draft the question is about; None (and the press answered) when the question is over."""
    data = await state.get_data()
    if await state.get_state() != CaseIntake.route.state or not data.get("draft"):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return None
    return int(data["draft"])


async def route_talk(query: CallbackQuery, callback_data: IntakeCb, session: AsyncSession, user: User,
                     state: FSMContext, settings: Settings) -> None:
    draft_id = await _routed_draft(query, state)
    if draft_id is None:
        return
    if int((await state.get_data()).get("talk", 0)) != callback_data.id:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    relayed = await cases.relay_draft(session, settings, user, draft_id, callback_data.id, utcnow())
    await state.clear()
    if (message := await pressed(query, session)) is not None:
        if relayed.to is None:
            text = _("✓ Saved to case {number}. Your grid worker will see it when they accept the case.")
        else:
            text = _("✓ Sent to your grid worker (case {number}).")
        await message.edit_text(text.format(number=relayed.number))


async def route_new(query: CallbackQuery, session: AsyncSession, state: FSMContext) -> None:
    draft_id = await _routed_draft(query, state)
    if draft_id is None:
        return
    await state.set_state(CaseIntake.collect)
    await state.set_data({"draft": draft_id})
    if (message := await pressed(query, session)) is not None:
        await message.edit_text(_("🆕 A new request"))
        await message.answer(_("📥 I have written this down as a new request to your grid team. Add photos, a "
                               "voice message or your location if it helps, then tap ✅ Send. (❌ Cancel if you "
                               "did not mean to.)"), reply_markup=intake_keyboard())


async def route_drop(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext) -> None:
    draft_id = await _routed_draft(query, state)
    if draft_id is None:
        return
    await _discard(session, user, state, draft_id)
    if (message := await pressed(query, session)) is not None:
        await message.edit_text(_("Cancelled. Nothing was sent."))


def register_location(router: Router) -> None:
    """A location at the menu: before the registration router, which takes locations too."""
    router.message.register(free_message, StateFilter(None), HasHome(), F.location)
    router.message.register(route_more, CaseIntake.route, F.location)
    on_press(router, IntakeCb, {"talk": route_talk, "new": route_new, "drop": route_drop})


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="cases_menu")
    router.message.register(free_message, StateFilter(None), HasHome(), F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(free_message, StateFilter(None), HasHome(), MEDIA)
    router.message.register(route_cancel, CaseIntake.route, F.text == CANCEL)
    router.message.register(route_more, CaseIntake.route, F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(route_more, CaseIntake.route, MEDIA)
    return router
