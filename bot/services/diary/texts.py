"""Words of the patrol diary, shared by the handlers (aiogram's ``gettext``) and
the diary's notifications (:func:`bot.services.l10n.translator`).

Every function takes the reader's translation function ``_``; one that counts takes
a :class:`bot.services.l10n.Translator` (handlers: ``bot.i18n.current_translator()``).
"""

from __future__ import annotations

from bot.services.diary.figures import DiaryFigures
from bot.services.l10n import Translate, Translator
from models import CareTag, EntryKind, OpinionCategory

KIND_ICONS = {EntryKind.visit: "🏠", EntryKind.opinion: "💬", EntryKind.problem: "⚠️", EntryKind.note: "📝"}
TAG_ICONS = {
    CareTag.elderly_alone: "👵", CareTag.disabled: "♿", CareTag.member_hardship: "🎖️",
    CareTag.family_difficulty: "🏚️", CareTag.other: "📌",
}


def kind_label(_: Translate, kind: EntryKind) -> str:
    return {
        EntryKind.visit: _("visit"),
        EntryKind.opinion: _("opinion"),
        EntryKind.problem: _("problem"),
        EntryKind.note: _("note"),
    }[kind]


def tag_label(_: Translate, tag: CareTag) -> str:
    return {
        CareTag.elderly_alone: _("elderly living alone"),
        CareTag.disabled: _("disabled"),
        CareTag.member_hardship: _("party member in hardship"),
        CareTag.family_difficulty: _("family in difficulty"),
        CareTag.other: _("other"),
    }[tag]


def opinion_label(_: Translate, category: OpinionCategory) -> str:
    return {
        OpinionCategory.environment: _("environment and sanitation"),
        OpinionCategory.property: _("property and housing"),
        OpinionCategory.safety: _("safety and order"),
        OpinionCategory.welfare: _("social security and welfare"),
        OpinionCategory.dispute: _("neighbour dispute"),
        OpinionCategory.suggestion: _("suggestion"),
        OpinionCategory.other: _("other"),
    }[category]


def category_label(_: Translate, kind: EntryKind, category: str | None) -> str:
    """The category of an entry in words ("" when it has none)."""
    if category is None:
        return ""
    try:
        if kind == EntryKind.visit:
            return tag_label(_, CareTag(category))
        if kind == EntryKind.opinion:
            return opinion_label(_, OpinionCategory(category))
    except ValueError:
        return category
    return ""


def interval_label(_: Translator, days: int) -> str:
    return {
        7: _("weekly"),
        14: _("every two weeks"),
        30: _("monthly"),
        91: _("quarterly"),
    }.get(days) or _.ngettext("every {days} day", "every {days} days", days).format(days=days)


def duration(_: Translate, minutes: int) -> str:
    hours, rest = divmod(max(0, minutes), 60)
    if hours:
        return _("{hours} h {minutes} min").format(hours=hours, minutes=rest)
    return _("{minutes} min").format(minutes=rest)


def figures_line(_: Translate, fig: DiaryFigures) -> str:
    """One worker's (or the total's) numbers on one line."""
    if not (fig.entries or fig.patrols or fig.cases_closed):
        return _("nothing logged")
    parts = [
        _("patrols {count} ({duration})").format(count=fig.patrols, duration=duration(_, fig.patrol_minutes)),
        _("visits {count}").format(count=fig.visits),
        _("opinions heard {count}").format(count=fig.opinions),
        _("problems {count} (cases made {cases})").format(count=fig.problems, cases=fig.cases_opened),
        _("cases closed {count}").format(count=fig.cases_closed),
    ]
    if fig.notes:
        parts.append(_("untagged notes {count}").format(count=fig.notes))
    return " · ".join(parts)
