"""Staff reports: ``/report`` (or 📊 Reports) → scope → period → a summary,
a chart, a workbook and a CSV of the period's cases in chat.

Administrators pick their district or one of its communities, community
staff their community or one of its grids, grid heads their grid (with one
choice the scope step is skipped).  Every button can be forged: the service
checks the scope on each press (:func:`bot.services.reports.resolve_scope`).
A refused press or message is answered by the one refusal path
(:mod:`handlers.refusal`).
The Monday digest's "Chart and spreadsheet" button lands here too.
"""

from __future__ import annotations

import asyncio

from aiogram import Bot, F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.answers import send_aside
from bot.config import Settings
from bot.i18n import PoI18n
from bot.middlewares import commit_keep_pending
from bot.services import reports
from bot.services.bounds import OptId, Page
from bot.services.escape import esc
from bot.services.l10n import translator
from handlers import labels
from handlers.keyboards import MenuLabel, cancel_only, with_nav
from models import User, utcnow

PAGE_SIZE = 8


class ReportCb(CallbackData, prefix=reports.REPORT_CB):
    """``action``: page (of scopes), scope, period, files (the digest's button).
    The same layout as :func:`bot.services.reports.report_cb`."""

    action: str
    kind: str = ""
    id: OptId = 0
    period: str = ""
    page: Page = 0


class ReportForm(StatesGroup):
    dates = State()  # data: kind, id: the scope whose dates are being typed


# ------------------------------------------------------------------ keyboards

def scope_keyboard(options: list[reports.Scope], page: int) -> InlineKeyboardMarkup:
    pages = max(1, -(-len(options) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = [[InlineKeyboardButton(
        text=f"{s.name} ({reports.scope_kind_label(_, s.kind)})",
        callback_data=ReportCb(action="scope", kind=s.kind.value, id=s.id).pack())]
        for s in options[page * PAGE_SIZE:(page + 1) * PAGE_SIZE]]
    nav = []
    if page > 0:
        nav.append(InlineKeyboardButton(text="◀️", callback_data=ReportCb(action="page", page=page - 1).pack()))
    if pages > 1:
        nav.append(InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data="noop"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text="▶️", callback_data=ReportCb(action="page", page=page + 1).pack()))
    if nav:
        rows.append(nav)
    return with_nav(InlineKeyboardMarkup(inline_keyboard=rows))


def period_keyboard(scope: reports.Scope) -> InlineKeyboardMarkup:
    choices = [("lw", _("📅 Last week")), ("tw", _("📅 This week")), ("lm", _("🗓 Last month")),
               ("tm", _("🗓 This month")), ("ty", _("📆 This year")), ("dates", _("✏️ Choose dates"))]
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=label, callback_data=ReportCb(action="period", kind=scope.kind.value,
                                                                 id=scope.id, period=code).pack())]
        for code, label in choices])


def period_question(scope: reports.Scope) -> str:
    return _("📊 Report for {scope}: which period?").format(scope=esc(scope.name))


# ------------------------------------------------------------------ handlers

async def start(message: Message, session: AsyncSession, user: User, i18n: PoI18n, state: FSMContext) -> None:
    options = await reports.scope_options(session, user, i18n.current_locale)
    await state.clear()
    if len(options) == 1:
        await message.answer(period_question(options[0]), reply_markup=period_keyboard(options[0]))
        return
    await message.answer(_("📊 Which report?"), reply_markup=scope_keyboard(options, 0))


async def page_pressed(query: CallbackQuery, callback_data: ReportCb, session: AsyncSession, user: User,
                       i18n: PoI18n) -> None:
    options = await reports.scope_options(session, user, i18n.current_locale)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("📊 Which report?"), reply_markup=scope_keyboard(options, callback_data.page))


async def scope_pressed(query: CallbackQuery, callback_data: ReportCb, session: AsyncSession, user: User,
                        i18n: PoI18n) -> None:
    scope = await reports.resolve_scope(session, user, callback_data.kind, callback_data.id, i18n.current_locale)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(period_question(scope), reply_markup=period_keyboard(scope))


async def period_pressed(query: CallbackQuery, callback_data: ReportCb, session: AsyncSession, user: User,
                         i18n: PoI18n, settings: Settings, state: FSMContext, bot: Bot) -> None:
    locale = i18n.current_locale
    if callback_data.period == "dates":
        scope = await reports.resolve_scope(session, user, callback_data.kind, callback_data.id, locale)
        await state.set_state(ReportForm.dates)
        await state.update_data(kind=scope.kind.value, id=scope.id)
        await query.answer()
        await bot.send_message(query.from_user.id, _(
            "✏️ Type the first and the last day, like 2026-11-01 2026-11-15 (one date: that day)."),
            reply_markup=cancel_only())
        return
    report = await reports.build(session, settings, user, callback_data.kind, callback_data.id,
                                 callback_data.period, locale, utcnow())
    # Shown now, not when the files are ready (bot/answers.py defers answers to the end);
    # the update stays pending until they are sent (a re-run after a crash shows it again).
    await send_aside(query.answer(_("Preparing the report…")))
    await send_report(bot, session, query.from_user.id, report, files_only=callback_data.action == "files")


async def dates_typed(message: Message, session: AsyncSession, user: User, i18n: PoI18n, settings: Settings,
                      state: FSMContext, bot: Bot) -> None:
    data = await state.get_data()
    # Refused (bad dates, a scope no longer theirs): the state stays, they can type again or /cancel.
    report = await reports.build(session, settings, user, str(data.get("kind", "")), int(data.get("id", 0)),
                                 None, i18n.current_locale, utcnow(), dates=message.text or "")
    await send_report(bot, session, message.chat.id, report, files_only=False, ending=state)


async def dates_abandoned(message: Message, state: FSMContext) -> None:  # noqa: ARG001
    """A main-menu button while the dates are awaited: the report is dropped and
    the button does its own job (the update goes on to the next handlers)."""
    await state.clear()
    raise SkipHandler


async def send_report(bot: Bot, session: AsyncSession, chat_id: int, report: reports.Report, *,
                      files_only: bool, ending: FSMContext | None = None) -> None:
    """The summary, then the chart, the workbook and the CSV.

    The files render off the event loop for seconds, with no transaction open
    (SQLite's one writer stays free) and the update not yet done
    (:func:`bot.middlewares.commit_keep_pending`): killed meanwhile, the bot
    handles the update again at its next start and the files are made then.
    ``ending``: the conversation this report ends (the typed dates), cleared
    once the files are made, so that it lands in the update's final commit
    with the answers (with Redis it is written then, just before that commit):
    handled again, the update still finds the dates awaited."""
    await commit_keep_pending(session)
    files = await asyncio.to_thread(reports.render_files, report)
    if ending is not None:
        await ending.clear()
    tr = translator(report.locale)
    if not files_only:
        await bot.send_message(chat_id, reports.summary_text(tr, report))
    heading = esc(reports.title(tr, report))
    await bot.send_photo(chat_id, BufferedInputFile(files.png, filename=f"{files.stem}.png"),
                         caption=heading + "\n" + _("Weekly trend of cases received and closed, and by unit."))
    await bot.send_document(chat_id, BufferedInputFile(files.xlsx, filename=f"{files.stem}.xlsx"),
                            caption=_("Workbook: one sheet per table."))
    await bot.send_document(chat_id, BufferedInputFile(files.csv, filename=f"{files.stem}-cases.csv"),
                            caption=_("The period's cases ({count}), one line each.").format(count=len(report.lines)))


def create_router() -> Router:
    """This module's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="reports")
    # Not filtered by role: the service answers "not allowed" to anyone else, buttons included.
    router.message.register(start, Command("report"))
    router.message.register(start, F.text == labels.REPORTS)
    router.message.register(dates_abandoned, ReportForm.dates, MenuLabel())
    # Not a menu button: after dates_abandoned skips it, the update must reach the button's own handler.
    router.message.register(dates_typed, ReportForm.dates, F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.callback_query.register(page_pressed, ReportCb.filter(F.action == "page"))
    router.callback_query.register(scope_pressed, ReportCb.filter(F.action == "scope"))
    router.callback_query.register(period_pressed, ReportCb.filter(F.action.in_({"period", "files"})))
    return router
