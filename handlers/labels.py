"""Reply-keyboard labels as lazy strings, so filters match every language."""

from aiogram.utils.i18n import lazy_gettext as __

PROFILE = __("👤 My profile")
LANGUAGE = __("🌐 Language")
HELP = __("❓ Help")
MY_GRID = __("🗺️ My grid")
MY_COMMUNITY = __("🏘️ My community")
MY_DEPARTMENT = __("🏛️ My department")
INVITE = __("✉️ Invite a colleague")
SKIP = __("Skip")
BROADCAST = __("📢 Send a notice")
REPORTS = __("📊 Reports")
