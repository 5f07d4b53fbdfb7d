"""Department officers: acknowledge a case their department was called into,
then report back (报到); the case returns to the grid worker.

Reporting back is a one-step conversation: 📝 Report back → the report (text).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import cases
from handlers.cases.flow import ask, conclude, pressed
from handlers.cases.ui import CaseDept, EscCb, button, rows
from handlers.keyboards import MenuLabel, cancel_only
from handlers.routing import on_press
from models import User, utcnow


async def acknowledge(query: CallbackQuery, callback_data: EscCb, session: AsyncSession, user: User,
                      settings: Settings) -> None:
    escalation = await cases.acknowledge_escalation(session, settings, user, callback_data.id, utcnow())
    if (message := await pressed(query, session)) is not None:
        await message.answer(
            _("👌 Acknowledged; the grid worker has been told. Tap “Report back” when your part is done."),
            reply_markup=rows(button(_("📝 Report back"), EscCb(action="rep", id=escalation.id))))


async def report_start(query: CallbackQuery, callback_data: EscCb, session: AsyncSession, user: User,
                       state: FSMContext) -> None:
    escalation = await cases.reportable(session, user, callback_data.id)
    await ask(query, state, CaseDept.report, _("What did your department do? Write your report for the grid worker."),
              data={"esc_id": escalation.id}, markup=cancel_only())


async def report_text(message: Message, session: AsyncSession, user: User, state: FSMContext,
                      settings: Settings) -> None:
    esc_id = int((await state.get_data()).get("esc_id", 0))
    # A bad report may be written again; with nothing left to report on, the conversation ends.
    await conclude(message, session, user, state,
                   cases.report_back(session, settings, user, esc_id, message.text or "", utcnow()),
                   _("✅ Report sent; the case is back with the grid worker."))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="cases_department")
    on_press(router, EscCb, {"ack": acknowledge, "rep": report_start})
    router.message.register(report_text, CaseDept.report, ~F.text.startswith("/"), ~MenuLabel())
    return router
