"""Translations for text that services render for someone else (notifications
written to the outbox), in the recipient's language.

Handlers translate with aiogram's context-bound ``gettext``; a service writing
to several people at once needs one translator per recipient instead::

    _ = translator(recipient_locale(user, settings.default_locale))
    text = _("Your case {number} was accepted.").format(number=case.number)

Calling it ``_`` keeps the strings extractable by ``scripts/update-catalogs``.
The catalogues are the same ``locales/*/LC_MESSAGES/messages.po`` the bot
uses, compiled in memory once per process.

One English word with two meanings gets a message context, so that each
meaning has its own translation (``msgctxt`` in the catalogues)::

    _.pgettext("target", "missed")       # a target not met: 未达标
    _.pgettext("appointment", "missed")  # a no-show: 爽约

A count takes the plural form of the language (English two, Chinese one; the
``Plural-Forms`` header of each catalogue says which)::

    _.ngettext("{n} resident", "{n} residents", n).format(n=n)

A function that needs contexts or plurals takes a :class:`Translator` (handlers get one from
``bot.i18n.current_translator()``); ``tests/test_i18n.py`` refuses a known ambiguous
word used without one.
"""

from __future__ import annotations

import gettext as _gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from bot.config import SUPPORTED_LOCALES

Translate = Callable[[str], str]
LOCALES_DIR = Path(__file__).resolve().parent.parent.parent / "locales"


def N_(message: str) -> str:
    """Marks a string for extraction; it is translated later, per recipient."""
    return message


@cache
def _catalog(locale: str) -> _gettext.NullTranslations:
    if locale not in SUPPORTED_LOCALES:
        return _gettext.NullTranslations()
    folder = locale.replace("-", "_")
    with (LOCALES_DIR / folder / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        catalog = read_po(fh, locale=folder)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return _gettext.GNUTranslations(buf)


class Translator:
    """``_(message)`` in one language, ``_.pgettext(context, message)`` and
    ``_.ngettext(singular, plural, n)``."""

    __slots__ = ("_catalog",)

    def __init__(self, catalog: _gettext.NullTranslations) -> None:
        self._catalog = catalog

    def __call__(self, message: str) -> str:
        return self._catalog.gettext(message)

    def pgettext(self, context: str, message: str) -> str:
        return self._catalog.pgettext(context, message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._catalog.ngettext(singular, plural, n)


def translator(locale: str) -> Translator:
    return Translator(_catalog(locale))


def reload() -> None:
    """Forget compiled catalogues (after they were edited, in tests)."""
    _catalog.cache_clear()
