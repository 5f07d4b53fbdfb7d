"""Reply-keyboard labels as lazy strings, so filters match every language."""

from aiogram.utils.i18n import lazy_gettext as __

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
