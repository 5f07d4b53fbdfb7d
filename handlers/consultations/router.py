"""Residents' consultations in chat (bot.services.consultations).

The asker (staff, a grid head, an administrator)::

    /consult or 🗳 Consultations → the recent ones (📊 results) and ➕ Ask the residents
    → the scope (community → grid → building) → the question → choices or open answers
    → [the choices, one a line] → the closing time (a tap or typed) → the preview → ✅ Send

A resident taps their answer on the question (✅ marks it; another tap changes
it), or taps ✍️ and writes.  Everything is checked by the services.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.middlewares import commit_keep_pending
from bot.services import broadcasts, consultations, reports
from bot.services.errors import Conflict, DomainError
from bot.services.escape import esc
from handlers import labels
from handlers.consultations.ui import ConsultAnswer, ConsultForm, CqCb, CqScopeCb, btn, kb
from handlers.keyboards import MenuLabel, with_nav
from handlers.refusal import error_text
from handlers.replies import edit_in_place
from handlers.routing import on_press
from models import BroadcastScope, User, utcnow

QUICK_DAYS = (1, 3, 7)


# ------------------------------------------------------------------ the asker: list and results

async def start(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings) -> None:
    await state.clear()
    items = await consultations.recent(session, user)
    rows = [btn(("🟢 " if c.status.value == "open" else "🏁 ") + c.question[:22], CqCb(action="res", id=c.id))
            for c in items]
    rows.append(btn(_("➕ Ask the residents"), CqCb(action="new")))
    text = _("🗳 Residents' consultations. Tap one for its results, or ask a new question.") if items else \
        _("🗳 Residents' consultations. No consultation yet: ask the residents a question.")
    await message.answer(text, reply_markup=with_nav(kb(rows)))


async def show_results(query: CallbackQuery, callback_data: CqCb, session: AsyncSession, user: User,
                       settings: Settings) -> None:
    res = await consultations.results(session, user, callback_data.id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    await query.message.answer(consultations.result_text(_, res, settings.tz))
    if res.choices:
        # Off the event loop (the first chart loads matplotlib: over a second on the VM,
        # every chat stalled meanwhile), with no transaction open and the update still
        # pending (a crash meanwhile has it shown again: bot.middlewares.commit_keep_pending).
        await commit_keep_pending(session)
        image = await asyncio.to_thread(reports.render_counts_png, res.question[:60], res.choices, res.counts)
        await query.message.answer_photo(BufferedInputFile(image, f"consultation-{res.id}.png"))


# ------------------------------------------------------------------ the asker: a new consultation

async def new(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n) -> None:
    await state.clear()
    roots = await broadcasts.root_refs(session, user, i18n.current_locale)
    await query.answer()
    await edit_in_place(query, _("Whom do you ask? Choose the place."), kb(
        [btn(o.name, CqScopeCb(type=ref.type.value, id=ref.id)) for ref, o in roots]))


async def scope_pressed(query: CallbackQuery, callback_data: CqScopeCb, session: AsyncSession, user: User,
                        state: FSMContext, i18n: PoI18n) -> None:
    try:
        ref = broadcasts.ScopeRef(BroadcastScope(callback_data.type), callback_data.id)
    except ValueError:
        raise Conflict("stale_button") from None
    if callback_data.pick:
        n = await consultations.count_recipients(session, user, ref)
        node = await broadcasts.scope_node(session, user, ref, i18n.current_locale)
        await state.set_state(ConsultForm.question)
        await state.set_data({"t": ref.type.value, "s": ref.id, "place": node.name, "n": n})
        await query.answer()
        await edit_in_place(query, _("🗳 {place}: residents on Telegram: {n}.").format(place=esc(node.name), n=n))
        if isinstance(query.message, Message):
            await query.message.answer(_("Type the question to ask them."))
        return
    node = await broadcasts.scope_node(session, user, ref, i18n.current_locale)
    rows = []
    if ref.type != BroadcastScope.district:
        rows.append(btn(_("✅ All of {name}").format(name=node.name)[:40], CqScopeCb(type=ref.type.value, id=ref.id,
                                                                                 pick=1)))
    if node.child_type is not None:
        rows += [btn(child.name, CqScopeCb(type=node.child_type.value, id=child.id)) for child in node.children]
    await query.answer()
    await edit_in_place(query, _("Whom do you ask? Choose the place."), kb(rows))


async def question_typed(message: Message, state: FSMContext) -> None:
    question = consultations.clean_question(message.text)
    await state.update_data(q=question)
    await message.answer(_("How do residents answer?"), reply_markup=kb([
        btn(_("🔘 By choosing"), CqCb(action="kind", arg=1)),
        btn(_("✍️ In their own words"), CqCb(action="kind", arg=0))]))


async def kind_pressed(query: CallbackQuery, callback_data: CqCb, state: FSMContext) -> None:
    if await state.get_state() != ConsultForm.question.state or "q" not in await state.get_data():
        raise Conflict("stale_button")
    await query.answer()
    if callback_data.arg:
        await state.set_state(ConsultForm.choices)
        await edit_in_place(query, _("Type the choices, one per line ({low} to {high}, each at most {limit} "
                                     "characters).").format(low=consultations.MIN_CHOICES,
                                                            high=consultations.MAX_CHOICES,
                                                            limit=consultations.CHOICE_LIMIT))
        return
    await state.update_data(c=[])
    await _ask_closing(query.message, state)


async def choices_typed(message: Message, state: FSMContext) -> None:
    choices = consultations.parse_choices(message.text)
    await state.update_data(c=choices)
    await _ask_closing(message, state)


async def _ask_closing(message: Any, state: FSMContext) -> None:
    await state.set_state(ConsultForm.closes)
    if isinstance(message, Message):
        await message.answer(_("When does it close? Tap one, or type a time like 12-24 18:00."), reply_markup=kb(
            [btn(_("In {n} days").format(n=d) if d > 1 else _("In one day"), CqCb(action="close", arg=d))
             for d in QUICK_DAYS]))


async def close_pressed(query: CallbackQuery, callback_data: CqCb, session: AsyncSession, user: User,
                        state: FSMContext, settings: Settings) -> None:
    if await state.get_state() != ConsultForm.closes.state or callback_data.arg not in QUICK_DAYS:
        raise Conflict("stale_button")
    await query.answer()
    if isinstance(query.message, Message):
        await _preview(query.message, state, settings, utcnow() + timedelta(days=callback_data.arg))


async def close_typed(message: Message, state: FSMContext, settings: Settings) -> None:
    now = utcnow()
    await _preview(message, state, settings, broadcasts.parse_schedule(message.text or "", now, settings.tz))


async def _preview(message: Message, state: FSMContext, settings: Settings, closes_at: datetime) -> None:
    consultations.check_closing(closes_at, utcnow())
    await state.update_data(at=closes_at.timestamp())
    await state.set_state(ConsultForm.confirm)
    data = await state.get_data()
    lines = [_("Ask the residents of {place} ({n}):").format(n=data.get("n", 0), place=esc(data.get("place", ""))),
             f"<b>{esc(data.get('q', ''))}</b>"]
    lines += [f"• {esc(c)}" for c in data.get("c", [])] or [_("(open answers)")]
    lines.append(_("Closes at {when}. The answers are anonymous.").format(
        when=consultations.when(closes_at, settings.tz)))
    await message.answer("\n".join(lines), reply_markup=kb([btn(_("✅ Send"), CqCb(action="send")),
                                                           btn(_("❌ Cancel"), CqCb(action="drop"))]))


async def send_pressed(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                       settings: Settings) -> None:
    data = await state.get_data()
    if await state.get_state() != ConsultForm.confirm.state or "at" not in data:
        raise Conflict("stale_button")
    ref = broadcasts.ScopeRef(BroadcastScope(data["t"]), int(data["s"]))
    closes_at = datetime.fromtimestamp(float(data["at"]), tz=UTC)
    consultation = await consultations.create(session, settings, user, ref=ref, question=str(data["q"]),
                                              choices=list(data.get("c", [])), closes_at=closes_at, now=utcnow())
    await state.clear()
    await session.commit()
    await query.answer()
    await edit_in_place(query, ngettext(
        "✅ Sent to {n} resident. Results: 🗳 Consultations (the resident gets them when it closes).",
        "✅ Sent to {n} residents. Results: 🗳 Consultations (each resident gets them when it closes).",
        consultation.asked).format(n=consultation.asked))


async def drop_pressed(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    await edit_in_place(query, _("Cancelled. Nothing was sent."))


# ------------------------------------------------------------------ residents

async def answer_pressed(query: CallbackQuery, callback_data: CqCb, session: AsyncSession, user: User) -> None:
    changed = await consultations.answer(session, user, callback_data.id, callback_data.arg, utcnow())
    await session.commit()
    await query.answer(_("✅ Changed. Thank you!") if changed else _("✅ Saved. Thank you!"))
    if isinstance(query.message, Message) and query.message.reply_markup is not None:
        rows = query.message.reply_markup.inline_keyboard
        marked = [[b.model_copy(update={"text": ("✅ " if CqCb.unpack(b.callback_data or "").arg == callback_data.arg
                                                 else "") + b.text.removeprefix("✅ ")}) for b in row] for row in rows]
        try:
            await query.message.edit_reply_markup(reply_markup=kb(marked))
        except TelegramBadRequest:  # a double click: the marks are already as they should be
            pass


async def write_pressed(query: CallbackQuery, callback_data: CqCb, session: AsyncSession, user: User,
                        state: FSMContext) -> None:
    await consultations.open_question(session, user, callback_data.id, utcnow())
    await state.set_state(ConsultAnswer.text)
    await state.set_data({"cq": callback_data.id})
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("Write your answer in one message. Nobody will see your name with it."))


async def answer_typed(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    consultation_id = int((await state.get_data()).get("cq", 0))
    try:
        changed = await consultations.answer_text(session, user, consultation_id, message.text or "", utcnow())
    except DomainError as err:
        if err.code in ("empty_text", "text_too_long"):
            raise  # the refusal path answers; they may write it again
        await state.clear()
        await message.answer(error_text(err))
        return
    await state.clear()
    await session.commit()
    await message.answer(_("✅ Your answer has been replaced. Thank you!") if changed
                         else _("✅ Your answer is saved. Thank you!"))


def create_router() -> Router:
    """This feature's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="consultations")
    router.message.register(start, Command("consult"))
    router.message.register(start, F.text == labels.CONSULT)
    on_press(router, CqCb, {"res": show_results, "new": new, "kind": kind_pressed, "close": close_pressed,
                            "send": send_pressed, "drop": drop_pressed, "a": answer_pressed, "w": write_pressed})
    router.callback_query.register(scope_pressed, CqScopeCb.filter())
    text = (F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(question_typed, ConsultForm.question, *text)
    router.message.register(choices_typed, ConsultForm.choices, *text)
    router.message.register(close_typed, ConsultForm.closes, *text)
    router.message.register(answer_typed, ConsultAnswer.text, *text)
    return router
