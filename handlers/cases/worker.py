"""Grid workers, grid heads and community staff: the inbox, accepting a case,
working it (start, template replies, handovers, departments) and resolving it.

Resolving is a short conversation (see docs/cases.md)::

    ✅ Mark as done → what was done (text) → a photo, or Skip → resolved

Buttons are not filtered by role here: a forged press reaches the service,
which refuses it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases
from bot.services.cases import FileRef
from bot.services.errors import DomainError
from bot.services.escape import esc
from handlers import labels
from handlers.cases import card as cases_card
from handlers.cases.flow import ask, conclude, finish, pressed
from handlers.cases.ui import (
    CANCEL,
    INBOX,
    CaseCb,
    CaseDept,
    CaseHandover,
    CaseResolve,
    InboxCb,
    brief_line,
    button,
    cancel,
    cancel_button,
    rows,
    skip_keyboard,
)
from handlers.common import show_menu
from handlers.filters import HasRole
from handlers.keyboards import MenuLabel, with_nav
from handlers.refusal import error_text
from handlers.routing import on_press
from models import Case, HandoverDirection, Role, User, utcnow

PAGE = 10


async def _inbox_markup(session: AsyncSession, user: User, page: int, i18n: PoI18n, settings: Settings):  # type: ignore[no-untyped-def]
    items, total = await cases.inbox(session, user, i18n.current_locale, utcnow(), offset=page * PAGE, limit=PAGE)
    if total == 0:
        return _("📥 No open cases. Well done!"), None
    pages = max(1, -(-total // PAGE))
    # 📌 marks the reader's own cases: 👷 is already the status "accepted" (issue 20: it showed twice).
    buttons = [button(("📌 " if b.mine else "") + brief_line(b, settings.tz), CaseCb(action="view", id=b.id))
               for b in items]
    nav = []
    if page > 0:
        nav.append(button("◀️", InboxCb(page=page - 1)))
    if page < pages - 1:
        nav.append(button("▶️", InboxCb(page=page + 1)))
    markup = rows(*buttons)
    if nav:
        markup.inline_keyboard.append(nav)
    markup = with_nav(markup)  # ⬅️ Back / ❌ Cancel under the list (issue 20)
    text = _("📥 Open cases: {total} (emergencies and overdue first; ⏰ overdue, 📌 yours). Page {page}/{pages}.").format(
        total=total, page=min(page + 1, pages), pages=pages)
    return text, markup


async def inbox(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                settings: Settings) -> None:
    await state.clear()
    text, markup = await _inbox_markup(session, user, 0, i18n, settings)
    await message.answer(text, reply_markup=markup)


async def inbox_page(query: CallbackQuery, callback_data: InboxCb, session: AsyncSession, user: User,
                     i18n: PoI18n, settings: Settings) -> None:
    text, markup = await _inbox_markup(session, user, max(0, callback_data.page), i18n, settings)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(text, reply_markup=markup)


async def _made_yours(query: CallbackQuery, session: AsyncSession, user: User, case: Case, i18n: PoI18n,
                      settings: Settings) -> None:
    """A case just became the worker's (accepted, or taken over by a head): commit, say so, show its card."""
    if (message := await pressed(query, session, _("✅ Case {number} is yours.").format(number=case.number))) \
            is not None:
        await cases_card.send_card(message, session, user, case.id, i18n, settings)


async def accept(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User, i18n: PoI18n,
                 settings: Settings) -> None:
    case = await cases.accept(session, settings, user, callback_data.id, utcnow())
    await _made_yours(query, session, user, case, i18n, settings)


async def start(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User, i18n: PoI18n,
                settings: Settings) -> None:
    case = await cases.start_work(session, settings, user, callback_data.id, utcnow())
    if (message := await pressed(query, session, _("▶️ Started; the resident has been told."))) is not None:
        await cases_card.send_card(message, session, user, case.id, i18n, settings)


# ------------------------------------------------------------------ resolving

async def resolve_start(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                        state: FSMContext, i18n: PoI18n) -> None:
    number = await cases_card.require(session, user, callback_data.id, "res", i18n)
    await ask(query, state, CaseResolve.note, _("{number}: what was done? Write a short note for the resident.").format(
        number=number), data={"resolve_case": callback_data.id, "number": number},
        markup=cancel_button(callback_data.id))


async def _then_photo(message: Message, state: FSMContext, step: State, prompt: str, **data: Any) -> None:
    """On to the last step (a photo, Skip or Cancel), keeping what was typed; the prompt names the case."""
    await state.set_state(step)
    await state.update_data(**data)
    number = (await state.get_data()).get("number", "")
    await message.answer(f"{number}: {prompt}" if number else prompt, reply_markup=skip_keyboard(cancel=True))


async def resolve_note(message: Message, state: FSMContext) -> None:
    if not (message.text or "").strip():
        await message.answer(_("Please write what was done."))
        return
    note = cases.resolution_note(message.text)  # too long: the refusal path answers, the note is asked again
    await _then_photo(message, state, CaseResolve.photo, _("Add a photo of the result, or tap Skip."),
                      resolve_note=note)


async def _resolve(session: AsyncSession, settings: Settings, user: User, data: dict[str, Any],
                   photo: FileRef | None) -> str:
    case = await cases.resolve(session, settings, user, int(data.get("resolve_case", 0)),
                               str(data.get("resolve_note", "")), photo, utcnow())
    if await cases.found_on_patrol(session, case):
        return _("✅ Case {number} is marked as done; a colleague will check it.").format(number=case.number)
    return _("✅ Case {number} is marked as done; the resident has been asked to confirm.").format(number=case.number)


# ------------------------------------------------------------------ templates

async def canned_list(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                      i18n: PoI18n) -> None:
    number = await cases_card.require(session, user, callback_data.id, "canned", i18n)
    replies = await cases.canned_for_case(session, user, callback_data.id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if not replies:
        await query.message.answer(_("There are no template replies yet; community staff can add them."))
        return
    await query.message.answer(
        _("{number}: tap a reply to send it to the resident:").format(number=number) + "\n\n"
        + "\n\n".join(f"<b>{esc(r.title)}</b>\n{esc(r.text)}" for r in replies),
        reply_markup=rows(*(button(r.title, CaseCb(action="cnd", id=callback_data.id, arg=r.id)) for r in replies),
                          cancel(callback_data.id)))


async def canned_send(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                      settings: Settings) -> None:
    await cases.send_canned(session, settings, user, callback_data.id, callback_data.arg, utcnow())
    await pressed(query, session, _("✓ Sent."))


# ------------------------------------------------------------------ departments

async def dept_list(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                    i18n: PoI18n) -> None:
    number = await cases_card.require(session, user, callback_data.id, "dept", i18n)
    departments = await cases.departments(session, i18n.current_locale)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("{number}: which department should take part?").format(number=number),
                                   reply_markup=rows(*(button(d.name, CaseCb(action="deptp", id=callback_data.id,
                                                                             arg=d.id)) for d in departments),
                                                     cancel(callback_data.id)))


async def dept_picked(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                      state: FSMContext, i18n: PoI18n) -> None:
    number = await cases_card.require(session, user, callback_data.id, "dept", i18n)
    await ask(query, state, CaseDept.note, _("{number}: what should the department do? Write a note for its "
                                             "officers.").format(number=number),
              data={"dept_case": callback_data.id, "dept_id": callback_data.arg},
              markup=cancel_button(callback_data.id))


async def dept_note(message: Message, session: AsyncSession, user: User, state: FSMContext,
                    settings: Settings) -> None:
    data = await state.get_data()
    # A bad note may be written again; when the case cannot take a department now, the conversation ends.
    await conclude(message, session, user, state,
                   cases.call_department(session, settings, user, int(data.get("dept_case", 0)),
                                         int(data.get("dept_id", 0)), message.text or "", utcnow()),
                   _("🏛️ The department has been called in; you will hear when it "
                     "acknowledges and when it reports back."))


# ------------------------------------------------------------------ handovers (proxy errands)

async def handover_start(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                         i18n: PoI18n) -> None:
    number = await cases_card.require(session, user, callback_data.id, "ho", i18n)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(_("{number}: which way did the document go?").format(number=number), reply_markup=rows(
            button(_("📥 I received it from the resident"), CaseCb(action="hod", id=callback_data.id, arg=1)),
            button(_("📤 I gave it to the resident"), CaseCb(action="hod", id=callback_data.id, arg=2)),
            cancel(callback_data.id)))


async def handover_direction(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                             state: FSMContext, i18n: PoI18n) -> None:
    number = await cases_card.require(session, user, callback_data.id, "ho", i18n)
    if callback_data.arg not in (1, 2):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await ask(query, state, CaseHandover.document, _("{number}: which document? (for example: ID card copy)").format(
        number=number), data={"ho_case": callback_data.id, "ho_dir": callback_data.arg, "number": number},
        markup=cancel_button(callback_data.id))


async def handover_document(message: Message, state: FSMContext) -> None:
    if not (message.text or "").strip():
        await message.answer(_("Please write the name of the document."))
        return
    name = cases.document_name(message.text)  # too long: the refusal path answers, the name is asked again
    await _then_photo(message, state, CaseHandover.photo, _("Add a photo of it, or tap Skip."), ho_doc=name)


async def _handover(session: AsyncSession, settings: Settings, user: User, data: dict[str, Any],
                    photo: FileRef | None) -> str:
    direction = HandoverDirection.to_worker if data.get("ho_dir") == 1 else HandoverDirection.to_resident
    await cases.log_handover(session, settings, user, int(data.get("ho_case", 0)), direction,
                             str(data.get("ho_doc", "")), photo, utcnow())
    return _("📄 Handover recorded; the resident has been told.")


# ------------------------------------------------------------------ escalation handles (grid heads, staff)

async def take(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User, i18n: PoI18n,
               settings: Settings) -> None:
    case = await cases.take(session, settings, user, callback_data.id, utcnow())
    await _made_yours(query, session, user, case, i18n, settings)


async def assign_list(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User) -> None:
    case, workers = await cases.assignees(session, user, callback_data.id)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if not workers:
        await query.message.answer(_("{number}: there is no other worker in this grid.").format(number=case.number))
        return
    await query.message.answer(
        _("{number}: who should handle it?").format(number=case.number),
        reply_markup=rows(*(button("👤 " + w.name, CaseCb(action="asgw", id=case.id, arg=w.id)) for w in workers),
                          cancel(case.id)))


async def assign_to(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                    settings: Settings) -> None:
    case = await cases.assign(session, settings, user, callback_data.id, callback_data.arg, utcnow())
    if (message := await pressed(query, session, _("👤 Case {number} has been given to the worker; they have been "
                                                    "told.").format(number=case.number), alert=True)) is not None:
        await message.edit_reply_markup(reply_markup=None)


async def remind(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                 settings: Settings) -> None:
    told = await cases.remind(session, settings, user, callback_data.id, utcnow())
    names = ", ".join(u.first_name or "—" for u in told)
    await pressed(query, session, _("🔔 Reminded: {names}").format(names=names), alert=True)


async def cancel_step(message: Message, user: User, state: FSMContext) -> None:
    """❌ Cancel at a step's reply keyboard (a photo, or Skip): nothing is saved."""
    await state.clear()
    await show_menu(message, user, _("Cancelled."))


# ------------------------------------------------------------------ the last step: a photo, or Skip

LastStep = Callable[[AsyncSession, Settings, User, dict[str, Any], FileRef | None], Awaitable[str]]
_LAST_STEPS: dict[str | None, LastStep] = {CaseResolve.photo.state: _resolve, CaseHandover.photo.state: _handover}


async def _last_step(message: Message, session: AsyncSession, user: User, state: FSMContext, settings: Settings,
                     photo: FileRef | None) -> None:
    """Resolve, or record the handover, with the conversation's data; say what was done."""
    step = _LAST_STEPS[await state.get_state()]
    try:
        text = await step(session, settings, user, await state.get_data(), photo)
    except DomainError as err:  # its earlier steps cannot be taken again: back to the menu, saying why
        await state.clear()
        await show_menu(message, user, error_text(err))
        return
    await finish(message, session, user, state, text)


async def last_photo(message: Message, session: AsyncSession, user: User, state: FSMContext,
                     settings: Settings) -> None:
    ref = cases_card.photo_ref(message)
    if ref is None:
        await message.answer(error_text(DomainError("photo_only")), reply_markup=skip_keyboard())
        return
    await _last_step(message, session, user, state, settings, ref)


async def last_skip(message: Message, session: AsyncSession, user: User, state: FSMContext,
                    settings: Settings) -> None:
    await _last_step(message, session, user, state, settings, None)


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="cases_worker")
    router.message.register(inbox, F.text == INBOX, HasRole(Role.worker, Role.grid_head, Role.staff,
                                                            Role.department))
    router.callback_query.register(inbox_page, InboxCb.filter())
    on_press(router, CaseCb, {"acc": accept, "start": start, "res": resolve_start, "canned": canned_list,
                              "cnd": canned_send, "dept": dept_list, "deptp": dept_picked, "ho": handover_start,
                              "hod": handover_direction, "take": take, "asg": assign_list, "asgw": assign_to,
                              "rmd": remind})
    router.message.register(resolve_note, CaseResolve.note, ~F.text.startswith("/"), ~MenuLabel())
    last = StateFilter(CaseResolve.photo, CaseHandover.photo)
    router.message.register(last_skip, last, F.text == labels.SKIP)
    router.message.register(cancel_step, last, F.text == CANCEL)
    router.message.register(last_photo, last, ~F.text.startswith("/"))
    router.message.register(dept_note, CaseDept.note, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(handover_document, CaseHandover.document, ~F.text.startswith("/"), ~MenuLabel())
    return router
