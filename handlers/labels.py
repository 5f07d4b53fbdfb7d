"""Reply-keyboard labels as lazy strings, so filters match every language."""

import sys

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
    msgids: set[str] = set()
    for name, module in list(sys.modules.items()):
        if name == "handlers" or name.startswith("handlers."):
            for value in list(vars(module).values()):
                if isinstance(value, LazyProxy):
                    args = object.__getattribute__(value, "_args")
                    if args and isinstance(args[0], str):
                        msgids.add(args[0])
    labels = frozenset(msgids | {i18n.gettext(m, locale=loc) for m in msgids for loc in SUPPORTED_LOCALES})
    _label_cache[id(i18n)] = labels
    return labels
