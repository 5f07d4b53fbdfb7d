"""Translations: gettext catalogues under ``locales/`` loaded through aiogram's i18n.

Catalogues are kept as ``.po`` text only; they are compiled in memory when
the bot starts, so there is no generated ``.mo`` file to forget.  A count's text
goes through ``ngettext(singular, plural, n)``: each catalogue's ``Plural-Forms``
header (Chinese one form, English two) picks its ``msgstr[i]``.  Locale codes
in the bot are BCP-47-like (``zh-Hans``, ``zh-Hant``, ``en``); the folders use
gettext's spelling (``zh_Hans``...).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n.middleware import I18nMiddleware
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from sqlalchemy import inspect as sa_inspect

from bot.config import SUPPORTED_LOCALES
from bot.services.l10n import Translator, translator

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"

LOCALE_NAMES = {"zh-Hans": "简体中文", "zh-Hant": "繁體中文", "en": "English"}


def folder_name(locale: str) -> str:
    return locale.replace("-", "_")


def telegram_locale(language_code: str | None) -> str | None:
    """One of ours when Telegram's ``language_code`` names it (zh-hans, zh-cn, zh → zh-Hans; zh-hant,
    zh-tw, zh-hk, zh-mo → zh-Hant; en, en-us... → en); else None."""
    if not language_code:
        return None
    code = language_code.lower()
    if code.startswith("zh"):
        if any(tag in code for tag in ("hant", "tw", "hk", "mo")):
            return "zh-Hant"
        return "zh-Hans"
    if code.startswith("en"):
        return "en"
    return None


def locale_from_telegram(language_code: str | None, default: str) -> str:
    """Best guess from Telegram's ``language_code`` (zh-hant, zh-tw, en-us...)."""
    return telegram_locale(language_code) or default


class PoI18n(I18n):
    """aiogram's I18n, reading ``.po`` catalogues compiled in memory."""

    @contextmanager
    def context(self) -> Iterator[I18n]:
        # aiogram's gettext() looks up ``I18n.get_current()``; a subclass would
        # otherwise set a context variable of its own that nobody reads.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for locale in SUPPORTED_LOCALES:
            po_path = Path(self.path) / folder_name(locale) / "LC_MESSAGES" / f"{self.domain}.po"
            if not po_path.exists():
                raise RuntimeError(f"missing catalogue {po_path}")
            with po_path.open("rb") as fh:
                catalog = read_po(fh, locale=folder_name(locale))
            buf = io.BytesIO()
            write_mo(buf, catalog)
            buf.seek(0)
            translations[locale] = gettext.GNUTranslations(buf)
        return translations


def pgettext(context: str, message: str) -> str:
    """``message`` in the current user's language, in the sense ``context`` names (a
    ``msgctxt`` of the catalogues): aiogram's i18n has no context-aware gettext."""
    i18n = I18n.get_current(no_error=True)
    if i18n is None:
        return message
    catalog = i18n.locales.get(i18n.current_locale)
    return catalog.pgettext(context, message) if catalog is not None else message


def current_translator() -> Translator:
    """The current user's language as a :class:`bot.services.l10n.Translator`, for the
    services' shared text functions that need message contexts or plural forms."""
    i18n = I18n.get_current(no_error=True)
    return translator(i18n.current_locale if i18n is not None else "en")


def create_i18n(default_locale: str = "zh-Hans") -> PoI18n:
    return PoI18n(path=LOCALES_DIR, default_locale=default_locale, domain=DOMAIN)


class UserLocaleMiddleware(I18nMiddleware):
    """Uses the locale stored on the user (set by ``UserMiddleware``)."""

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        """aiogram's, the catalogue (as :meth:`PoI18n.context` sets it) and the locale set and
        reset directly: its two ``contextmanager`` generators cost more than the rest of it."""
        locale = await self.get_locale(event=event, data=data) or self.i18n.default_locale
        if self.i18n_key:
            data[self.i18n_key] = self.i18n
        if self.middleware_key:
            data[self.middleware_key] = self
        current = I18n.set_current(self.i18n)
        try:
            chosen = self.i18n.ctx_locale.set(locale)
            try:
                return await handler(event, data)
            finally:
                self.i18n.ctx_locale.reset(chosen)
        finally:
            I18n.reset_current(current)

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user = data.get("user")
        # Read without loading: after a handler fails, its session is rolled back
        # and closed (the user's attributes expired), and aiogram still runs this
        # for the error event; a load there would raise and hide the real error.
        state = sa_inspect(user, raiseerr=False) if user is not None else None
        locale = state.dict.get("locale") if state is not None else getattr(user, "locale", None)
        if locale in SUPPORTED_LOCALES:
            return str(locale)
        tg_user = data.get("event_from_user")
        return locale_from_telegram(getattr(tg_user, "language_code", None), self.i18n.default_locale)
