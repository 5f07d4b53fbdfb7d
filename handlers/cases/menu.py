"""A resident writing at the menu (no conversation going on) starts a case.

Text, a photo, a voice message, a document or a location sent at the menu by
a registered resident becomes a new request to their grid (or joins the
request they have not sent yet); they then add more and tap ✅ Send.  This
router sits just before ``fallback``; the location handler is registered on
the case router that precedes ``resident`` (see :func:`register_location`).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import PoI18n
from bot.services import cases
from handlers.cases.card import file_ref
from handlers.cases.ui import CaseIntake, HasHome, intake_keyboard, summary_text
from handlers.keyboards import MenuLabel
from models import CaseKind, User, utcnow


async def free_message(message: Message, session: AsyncSession, user: User, state: FSMContext,
                       i18n: PoI18n) -> None:
    locale, now = i18n.current_locale, utcnow()
    draft = await cases.pending_draft(session, user)
    resumed = draft is not None
    if draft is None:
        draft = await cases.start_draft(session, user, kind=CaseKind.request, service_id=None, now=now)
    if message.location is not None:
        summary = await cases.add_location(session, user, draft.id, message.location.latitude,
                                           message.location.longitude, locale, now)
    elif (ref := file_ref(message)) is not None:
        summary = await cases.add_file(session, user, draft.id, ref, locale, now)
    else:
        summary = await cases.add_text(session, user, draft.id, message.text or "", locale)
    await session.commit()
    await state.set_state(CaseIntake.collect)
    await state.set_data({"draft": draft.id})
    if resumed:
        text = _("📥 Added to the request you have not sent yet ({items}). Add more, or tap ✅ Send.").format(
            items=summary_text(summary))
    else:
        text = _("📥 I have written this down as a new request to your grid team. Add photos, a voice message or "
                 "your location if it helps, then tap ✅ Send. (❌ Cancel if you did not mean to.)")
    await message.answer(text, reply_markup=intake_keyboard())


def register_location(router: Router) -> None:
    """A location at the menu: before the registration router, which takes locations too."""
    router.message.register(free_message, StateFilter(None), HasHome(), F.location)


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="cases_menu")
    router.message.register(free_message, StateFilter(None), HasHome(), F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(free_message, StateFilter(None), HasHome(),
                            F.photo | F.voice | F.audio | F.video | F.video_note | F.document)
    return router
