"""Reply-keyboard labels as lazy strings, so filters match every language."""

import re
import sys
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import Message, TelegramObject
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import lazy_gettext as __
from babel.support import LazyProxy

from bot.config import SUPPORTED_LOCALES

PROFILE = __("👤 My profile")
LANGUAGE = __("🌐 Language")
HELP = __("❓ Help")
MY_GRID = __("🗺️ My grid")
MY_COMMUNITY = __("🏘️ My community")
MY_DEPARTMENT = __("🏛️ My department")
INVITE = __("✉️ Invite a colleague")
REVOKE = __("➖ Remove a role")
ACCESS_LOG = __("🔍 Access log")
SKIP = __("Skip")
CANCEL = __("❌ Cancel")  # a step's reply keyboard: leave it (the menu comes back)
BROADCAST = __("📢 Send a notice")
REPORTS = __("📊 Reports")
# The features' main-menu buttons (handlers/keyboards.main_menu): here, so that the menu needs no feature.
ASK_HELP = __("🙋 Ask for help")
REPORT = __("📝 Report a problem")
MY_CASES = __("📂 My cases")
INBOX = __("📥 My inbox")
CANNED = __("💬 Reply templates")
BOOK = __("📅 Book an appointment")
MY_APPOINTMENTS = __("🗓️ My appointments")
AGENDA = __("📋 Station agenda")
PROXY_BOOK = __("🤝 Book for a resident")
DIARY = __("📒 Patrol diary")
CONSULT = __("🗳 Consultations")
MY_BUILDING = __("🏢 My building")  # building and unit heads (handlers/org/)
MY_ERRANDS = __("🙋 My errands")  # volunteers (handlers/org/)
EVENTS = __("🎪 Service days")  # community staff (handlers/events/)


_label_cache: dict[int, frozenset[str]] = {}


def menu_labels(i18n: I18n | None = None) -> frozenset[str]:
    """Every reply-keyboard label of every handler module, in every language (of
    ``i18n``, the current catalogue by default): a worker tapping a menu button is
    never taken for a note, nor a stranger's tap for her words."""
    i18n = i18n if i18n is not None else I18n.get_current()
    cached = _label_cache.get(id(i18n))
    if cached is not None:
        return cached
    msgids = _label_msgids()
    labels = frozenset(msgids | {i18n.gettext(m, locale=loc) for m in msgids for loc in SUPPORTED_LOCALES})
    _label_cache[id(i18n)] = labels
    return labels


def _label_msgids() -> set[str]:
    """The source text of every reply-keyboard label (a lazy string of a handler module)."""
    msgids: set[str] = set()
    for name, module in list(sys.modules.items()):
        if name == "handlers" or name.startswith("handlers."):
            for value in list(vars(module).values()):
                if isinstance(value, LazyProxy) and (msgid := _msgid(value)) is not None:
                    msgids.add(msgid)
    return msgids


def _msgid(label: LazyProxy) -> str | None:
    """The source text of a lazy label (the first argument it was made with)."""
    args = object.__getattribute__(label, "_args")
    return args[0] if args and isinstance(args[0], str) else None


# Labels are short; a longer text is someone's words.
MAX_TYPED_LABEL = 16


_NOT_LETTERS = re.compile(r"[\W_]+")  # spaces, punctuation, emoji and their variation selectors


def _bare(text: str) -> str:
    """A label as typed by hand: without its emoji, spaces and punctuation, case folded
    (``"✅ 发送"`` → ``"发送"``, ``"❓ Help"`` → ``"help"``)."""
    return _NOT_LETTERS.sub("", unicodedata.normalize("NFKC", text)).casefold()


_typed_cache: dict[tuple[int, str], dict[str, str]] = {}
_TYPABLE: set[str] = set()  # msgids of the features' labels a person may type (typable)


def typable(label: LazyProxy) -> LazyProxy:
    """Mark a feature's reply-keyboard label as a command a person may type by hand
    (:func:`typed_label`); the labels of this module are.  Not for labels that are
    also plain words of a message (the diary's ⚠️ Problem: "问题" typed is a word)."""
    msgid = _msgid(label)
    if msgid is not None:
        _TYPABLE.add(msgid)
    return label


def _typable_msgids() -> set[str]:
    own = {_msgid(v) for v in globals().values() if isinstance(v, LazyProxy)}
    return {m for m in own if m is not None} | _TYPABLE


def typed_label(text: str, i18n: I18n | None = None) -> str | None:
    """The reply-keyboard label of the reader's language that ``text`` is, typed by hand
    (发送 for ✅ 发送, 帮助 for ❓ 帮助, "cancel" for ❌ Cancel), or None.  Only the labels
    of this module and those marked :func:`typable`; two that read the same typed by hand
    are neither (the tap is needed)."""
    if len(text) > MAX_TYPED_LABEL:
        return None
    i18n = i18n if i18n is not None else I18n.get_current(no_error=True)
    if i18n is None:
        return None
    key = (id(i18n), i18n.current_locale)
    table = _typed_cache.get(key)
    if table is None:
        table, ambiguous = {}, set()
        for msgid in _typable_msgids():
            label = i18n.gettext(msgid, locale=i18n.current_locale)
            bare = _bare(label)
            if bare and table.setdefault(bare, label) != label:
                ambiguous.add(bare)
        for bare in ambiguous:
            del table[bare]
        if len(_typed_cache) < 64:
            _typed_cache[key] = table
    return table.get(_bare(text))


class TypedLabels(BaseMiddleware):
    """A label typed by hand (:func:`typed_label`) is handled as its tap: the message goes
    on to the routers with the label's exact text.  Residents often type the word they see
    on a button ("发送") rather than tap it; without this they were answered as if they had
    added words, again and again.  The update as stored keeps what they typed."""

    async def __call__(self, handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
                       event: TelegramObject, data: dict[str, Any]) -> Any:
        if (isinstance(event, Message) and event.text and len(event.text) <= MAX_TYPED_LABEL
                and not event.entities):
            label = typed_label(event.text)
            if label is not None and label != event.text:
                event = event.model_copy(update={"text": label})
        return await handler(event, data)
