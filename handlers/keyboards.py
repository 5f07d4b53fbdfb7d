"""Keyboard builders.  Big buttons, one choice per row, few steps."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from aiogram.filters import BaseFilter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import ReplyKeyboardBuilder

from bot.i18n import LOCALE_NAMES
from bot.services.offline import Home
from bot.services.users import Option
from handlers import labels
from handlers.callbacks import LangCb, NavCb, PageCb, PlaceCb
from models import Role

PAGE_SIZE = 8


# The keyboards every user meets (language, places, main menu) are built as
# markups directly: aiogram's keyboard builders validate and copy each button
# again on export, about five times the cost (measured: 160 µs against 30 µs
# for the three language buttons).


@cache
def language_keyboard() -> InlineKeyboardMarkup:
    """The same for everyone (each language in its own name): built once."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=name, callback_data=LangCb(locale=code).pack())]
        for code, name in LOCALE_NAMES.items()
    ])


def options_keyboard(options: list[Option], *, level: str, parent: int, page: int = 0) -> InlineKeyboardMarkup:
    """One option per row, paginated; the page is clamped to the list."""
    pages = max(1, -(-len(options) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    rows = [
        [InlineKeyboardButton(text=option.name, callback_data=PlaceCb(level=level, id=option.id).pack())]
        for option in options[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    ]
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(InlineKeyboardButton(text="◀️", callback_data=PageCb(level=level, parent=parent, page=page - 1).pack()))
    if pages > 1:
        nav.append(InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data="noop"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text="▶️", callback_data=PageCb(level=level, parent=parent, page=page + 1).pack()))
    if nav:
        rows.append(nav)
    # ⬅️ Back one level (from the communities: to the search by name), ❌ Cancel out.
    rows.append(nav_row(PageCb(level="back" if level != "c" else "s", parent=parent, page=0)))
    return InlineKeyboardMarkup(inline_keyboard=rows)


# ------------------------------------------------------------------ a way back and out (issue 20)
# Every inline list and prompt of a flow ends with a row of these two: ⬅️ Back one step (or to the
# menu from a first list) and ❌ Cancel (the conversation ends, the menu shows).

def back_button(data: CallbackData | None = None) -> InlineKeyboardButton:
    """⬅️ Back: to ``data``'s step, or to the main menu."""
    return InlineKeyboardButton(text=_("⬅️ Back"), callback_data=(data or NavCb(action="menu")).pack())


def cancel_button(data: CallbackData | None = None) -> InlineKeyboardButton:
    """❌ Cancel: ``data``'s own cancel (a draft to discard...), or the plain one that ends the conversation."""
    return InlineKeyboardButton(text=_("❌ Cancel"), callback_data=(data or NavCb(action="cancel")).pack())


def cancel_only() -> InlineKeyboardMarkup:
    """A typed answer's prompt: ❌ Cancel alone (the conversation ends, the menu shows)."""
    return InlineKeyboardMarkup(inline_keyboard=[[cancel_button()]])


def nav_row(back: CallbackData | None = None, cancel: CallbackData | None = None) -> list[InlineKeyboardButton]:
    """The last row of a list or prompt: ⬅️ Back and ❌ Cancel."""
    return [back_button(back), cancel_button(cancel)]


def with_nav(markup: InlineKeyboardMarkup | None, back: CallbackData | None = None,
             cancel: CallbackData | None = None) -> InlineKeyboardMarkup:
    """``markup`` with the ⬅️ Back / ❌ Cancel row added (a new markup; ``None``: that row alone)."""
    rows = list(markup.inline_keyboard) if markup is not None else []
    return InlineKeyboardMarkup(inline_keyboard=[*rows, nav_row(back, cancel)])


def location_keyboard() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.row(KeyboardButton(text=_("📍 Use my location"), request_location=True))
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True)


def phone_keyboard(*, cancel: bool = False) -> ReplyKeyboardMarkup:
    """📱 Share my phone number, and Skip (registering) or ❌ Cancel (changing it from the profile)."""
    kb = ReplyKeyboardBuilder()
    kb.row(KeyboardButton(text=_("📱 Share my phone number"), request_contact=True))
    kb.row(KeyboardButton(text=str(labels.CANCEL if cancel else labels.SKIP)))
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True)


def main_menu(roles: set[Role], *, resident: bool) -> ReplyKeyboardMarkup:
    """Residents' buttons one per row (big, for older eyes); the work buttons of
    a role two per row, so a secretary's menu stays short."""
    own: list[object] = []
    if resident:  # the case loop (handlers/cases_*.py)
        own += [labels.ASK_HELP, labels.REPORT, labels.MY_CASES]
    if resident:  # appointments at stations (handlers/appointments_*.py)
        own += [labels.BOOK, labels.MY_APPOINTMENTS]
    lines: list[object] = []  # role work, in this order
    if roles & {Role.building_head, Role.unit_head}:  # the district's own organisation (handlers/org/)
        lines.append(labels.MY_BUILDING)
    if Role.volunteer in roles:
        lines.append(labels.MY_ERRANDS)
        if not roles & {Role.staff, Role.admin}:  # who has it below too
            lines.append(labels.EVENTS)  # the service days they may sign up for (handlers/events/)
    if roles & {Role.worker, Role.grid_head, Role.building_head, Role.unit_head}:
        lines.append(labels.PROXY_BOOK)
    if roles & {Role.worker, Role.grid_head, Role.staff, Role.admin}:
        lines.append(labels.AGENDA)
    if roles & {Role.worker, Role.grid_head, Role.staff, Role.department}:
        lines.append(labels.INBOX)
    if roles & {Role.worker, Role.grid_head}:
        lines.append(labels.MY_GRID)
    if roles & {Role.worker, Role.grid_head, Role.staff}:  # the patrol diary (handlers/diary/)
        lines.append(labels.DIARY)
    if Role.staff in roles:
        lines.append(labels.MY_COMMUNITY)
    if Role.department in roles:
        lines.append(labels.MY_DEPARTMENT)
    if roles & {Role.staff, Role.admin, Role.grid_head}:
        lines.append(labels.BROADCAST)
        lines.append(labels.REPORTS)  # handlers/reports/router.py
        lines.append(labels.CONSULT)  # handlers/consultations/
        lines.append(labels.INVITE)  # a grid head: building and unit heads of their grid
    if roles & {Role.staff, Role.admin}:
        lines.append(labels.EVENTS)  # service days (handlers/events/)
        lines.append(labels.CANNED)
        lines.append(labels.REVOKE)
        lines.append(labels.ACCESS_LOG)
    rows = [[KeyboardButton(text=str(label))] for label in own]
    rows += [[KeyboardButton(text=str(label)) for label in lines[i:i + 2]] for i in range(0, len(lines), 2)]
    rows.append([KeyboardButton(text=str(labels.PROFILE)), KeyboardButton(text=str(labels.LANGUAGE))])
    rows.append([KeyboardButton(text=str(labels.HELP))])
    return ReplyKeyboardMarkup(keyboard=rows, resize_keyboard=True, is_persistent=True)


class MenuLabel(BaseFilter):
    """The text is a main-menu button (of any feature, in the reader's language).

    Conversations that take free text skip these, so a menu press is never
    relayed or stored as the resident's words; the feature's own handler takes it.
    """

    async def __call__(self, message: Message) -> bool:
        return bool(message.text) and message.text in menu_texts()


_MENU_TEXTS: dict[tuple[int, str], frozenset[str]] = {}


def menu_texts() -> frozenset[str]:
    """Every main-menu button's text in the current language, made once per catalogue
    and language (building the menu's buttons for each message cost more than the rest
    of its routing)."""
    i18n = I18n.get_current(no_error=True)
    key = (id(i18n), i18n.current_locale if i18n is not None else "")
    texts = _MENU_TEXTS.get(key)
    if texts is None:
        menu = main_menu(set(Role), resident=True)
        texts = frozenset(b.text for row in menu.keyboard for b in row)
        if len(_MENU_TEXTS) < 64:  # a catalogue or two, three languages: a bound all the same
            _MENU_TEXTS[key] = texts
    return texts


def homes_keyboard(homes: list[Home], button: Callable[[int], CallbackData]) -> InlineKeyboardMarkup:
    """Where a neighbour a head typed in lives (bot.services.offline.head_homes), one big button
    each; ``button``: the callback data of a home's code."""
    return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(
        text=(_("{building}, unit {units}").format(building=h.building, units=h.unit) if h.unit
              else _("{building}, unit not known").format(building=h.building))[:60],
        callback_data=button(h.code).pack())] for h in homes])
