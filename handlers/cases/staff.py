"""Community staff and administrators: template replies for workers, and the
working calendar's holidays (administrators).

Templates: 💬 Reply templates → ➕ New (title → text) / ✏️ a template (new text) / 🗑.
Holidays: ``/holidays`` lists the coming ones; ``/holiday 2026-10-01 off 国庆节``,
``/holiday 2026-10-10 work 调休`` and ``/holiday 2026-10-01 clear`` edit them.
"""

from __future__ import annotations

from datetime import date

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import cases, workcalendar
from bot.services.bounds import in_range
from bot.services.dates import local_day
from bot.services.errors import DomainError
from bot.services.escape import esc
from handlers.cases.flow import ask, conclude, pressed
from handlers.cases.ui import CANNED, CannedCb, CannedEdit, button, rows
from handlers.filters import HasRole
from handlers.keyboards import MenuLabel, with_nav
from handlers.refusal import error_text
from handlers.routing import on_press
from models import HolidayKind, Role, User, utcnow


async def canned_menu(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    await state.clear()
    replies = await cases.canned_editable(session, user)
    text = _("Template replies workers can send to residents. Tap one to change its text.")
    if replies:
        text += "\n\n" + "\n\n".join(f"<b>{esc(r.title)}</b>\n{esc(r.text)}" for r in replies)
    buttons = [button(_("➕ New template"), CannedCb(action="new"))]
    for r in replies:
        buttons.append(button("✏️ " + r.title, CannedCb(action="edit", id=r.id)))
        buttons.append(button("🗑 " + r.title, CannedCb(action="del", id=r.id)))
    await message.answer(text, reply_markup=with_nav(rows(*buttons)))


async def canned_new(query: CallbackQuery, state: FSMContext) -> None:
    await ask(query, state, CannedEdit.title, _("A short title for the template (what workers see on the button)?"),
              data={})


async def canned_title(message: Message, state: FSMContext) -> None:
    title = " ".join((message.text or "").split())
    if not title or len(title) > 40:
        await message.answer(error_text(DomainError("text_too_long", limit=40)) if title else _("Please write a title."))
        return
    await state.set_state(CannedEdit.text)
    await state.update_data(canned_title=title)
    await message.answer(_("Now the text the resident will read."))


async def canned_edit(query: CallbackQuery, callback_data: CannedCb, session: AsyncSession, user: User,
                      state: FSMContext) -> None:
    reply = await cases.canned_to_edit(session, user, callback_data.id)
    await ask(query, state, CannedEdit.text, _("Write the new text of the template."), data={"canned_id": reply.id})


async def canned_text(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    data = await state.get_data()
    if data.get("canned_id"):
        save = cases.update_canned(session, user, int(data["canned_id"]), message.text or "", utcnow())
    else:
        save = cases.create_canned(session, user, str(data.get("canned_title", "")), message.text or "", utcnow())
    # A bad text may be written again; when the template is gone (or the right to edit it), the conversation ends.
    await conclude(message, session, user, state, save, _("💬 Template saved."))


async def canned_delete(query: CallbackQuery, callback_data: CannedCb, session: AsyncSession, user: User) -> None:
    await cases.delete_canned(session, user, callback_data.id)
    if (message := await pressed(query, session, _("Deleted."))) is not None:
        await message.edit_reply_markup(reply_markup=None)


_KINDS = {"off": HolidayKind.holiday, "holiday": HolidayKind.holiday, "休": HolidayKind.holiday,
          "work": HolidayKind.workday, "workday": HolidayKind.workday, "班": HolidayKind.workday}


async def holidays(message: Message, session: AsyncSession, user: User, settings: Settings) -> None:
    rows_ = await workcalendar.upcoming_exceptions(session, user, local_day(utcnow(), settings.tz))
    lines = [_("Holidays and make-up workdays ahead:")]
    for h in rows_:
        kind = _("day off") if h.kind == HolidayKind.holiday else _("make-up workday")
        lines.append(f"{h.day.isoformat()} · {kind} · {esc(h.name)}")
    if not rows_:
        lines.append(_("none"))
    lines.append(_("Change: /holiday 2026-10-01 off name · /holiday 2026-10-10 work name · /holiday 2026-10-01 clear"))
    await message.answer("\n".join(lines))


async def holiday_set(message: Message, command: CommandObject, session: AsyncSession, user: User) -> None:
    parts = (command.args or "").split(maxsplit=2)
    try:
        day = date.fromisoformat(parts[0]) if parts else None
    except ValueError:
        day = None
    if day is not None and not in_range(day):  # year 1 or 9999: not a holiday of ours
        day = None
    word = parts[1].lower() if len(parts) > 1 else ""
    if day is None or (word not in _KINDS and word != "clear"):
        await message.answer(_("Write it like: /holiday 2026-10-01 off National Day (or work, or clear)."))
        return
    await workcalendar.set_exception(session, user, day, None if word == "clear" else _KINDS[word],
                                     parts[2] if len(parts) > 2 else "")
    await session.commit()
    await message.answer(_("Saved: {day}. Deadlines set from now on count with it.").format(day=day.isoformat()))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="cases_staff")
    router.message.register(canned_menu, F.text == CANNED, HasRole(Role.staff, Role.admin))
    router.callback_query.register(canned_new, CannedCb.filter(F.action == "new"), HasRole(Role.staff, Role.admin))
    on_press(router, CannedCb, {"edit": canned_edit, "del": canned_delete})
    router.message.register(canned_title, CannedEdit.title, F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(canned_text, CannedEdit.text, F.text, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(holidays, Command("holidays"), HasRole(Role.admin))
    router.message.register(holiday_set, Command("holiday"), HasRole(Role.admin))
    return router
