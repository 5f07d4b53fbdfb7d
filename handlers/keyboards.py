"""Keyboard builders.  Big buttons, one choice per row, few steps."""

from __future__ import annotations

from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder, ReplyKeyboardBuilder

from bot.i18n import LOCALE_NAMES
from bot.services.users import Option
from handlers import appointments_ui, cases_ui, diary_ui, labels
from handlers.callbacks import LangCb, PageCb, PlaceCb
from models import Role

PAGE_SIZE = 8


def language_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for code, name in LOCALE_NAMES.items():
        kb.button(text=name, callback_data=LangCb(locale=code))
    kb.adjust(1)
    return kb.as_markup()


def options_keyboard(options: list[Option], *, level: str, parent: int, page: int = 0) -> InlineKeyboardMarkup:
    """One option per row, paginated; the page is clamped to the list."""
    pages = max(1, -(-len(options) // PAGE_SIZE))
    page = min(max(page, 0), pages - 1)
    kb = InlineKeyboardBuilder()
    for option in options[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]:
        kb.row(InlineKeyboardButton(text=option.name, callback_data=PlaceCb(level=level, id=option.id).pack()))
    nav: list[InlineKeyboardButton] = []
    if page > 0:
        nav.append(InlineKeyboardButton(text="◀️", callback_data=PageCb(level=level, parent=parent, page=page - 1).pack()))
    if pages > 1:
        nav.append(InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data="noop"))
    if page < pages - 1:
        nav.append(InlineKeyboardButton(text="▶️", callback_data=PageCb(level=level, parent=parent, page=page + 1).pack()))
    if nav:
        kb.row(*nav)
    if level != "c":
        kb.row(InlineKeyboardButton(text=_("⬅️ Back"), callback_data=PageCb(level="back", parent=parent, page=0).pack()))
    return kb.as_markup()


def location_keyboard() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.row(KeyboardButton(text=_("📍 Use my location"), request_location=True))
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True)


def phone_keyboard() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.row(KeyboardButton(text=_("📱 Share my phone number"), request_contact=True))
    kb.row(KeyboardButton(text=str(labels.SKIP)))
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True)


def main_menu(roles: set[Role], *, resident: bool) -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    if resident:  # the case loop (handlers/cases_*.py)
        for label in (cases_ui.ASK_HELP, cases_ui.REPORT, cases_ui.MY_CASES):
            kb.row(KeyboardButton(text=str(label)))
    if resident:  # appointments at stations (handlers/appointments_*.py)
        kb.row(KeyboardButton(text=str(appointments_ui.BOOK)))
        kb.row(KeyboardButton(text=str(appointments_ui.MY_APPOINTMENTS)))
    if roles & {Role.worker, Role.grid_head}:
        kb.row(KeyboardButton(text=str(appointments_ui.PROXY_BOOK)))
    if roles & {Role.worker, Role.grid_head, Role.staff, Role.admin}:
        kb.row(KeyboardButton(text=str(appointments_ui.AGENDA)))
    if roles & {Role.worker, Role.grid_head, Role.staff, Role.department}:
        kb.row(KeyboardButton(text=str(cases_ui.INBOX)))
    if roles & {Role.worker, Role.grid_head}:
        kb.row(KeyboardButton(text=str(labels.MY_GRID)))
    if roles & {Role.worker, Role.grid_head, Role.staff}:  # the patrol diary (handlers/diary.py)
        kb.row(KeyboardButton(text=str(diary_ui.DIARY)))
    if Role.staff in roles:
        kb.row(KeyboardButton(text=str(labels.MY_COMMUNITY)))
    if Role.department in roles:
        kb.row(KeyboardButton(text=str(labels.MY_DEPARTMENT)))
    if roles & {Role.staff, Role.admin, Role.grid_head}:
        kb.row(KeyboardButton(text=str(labels.BROADCAST)))
        kb.row(KeyboardButton(text=str(labels.REPORTS)))  # handlers/reports.py
    if roles & {Role.staff, Role.admin}:
        kb.row(KeyboardButton(text=str(labels.INVITE)))
        kb.row(KeyboardButton(text=str(cases_ui.CANNED)))
    kb.row(KeyboardButton(text=str(labels.PROFILE)), KeyboardButton(text=str(labels.LANGUAGE)))
    kb.row(KeyboardButton(text=str(labels.HELP)))
    return kb.as_markup(resize_keyboard=True, is_persistent=True)
