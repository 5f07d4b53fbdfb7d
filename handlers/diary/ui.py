"""Shared pieces of the diary handlers: reply-keyboard labels, conversation
states, callback data, keyboards and the rendering of entries, days, months
and errors.

Services build some buttons themselves (notifications in the outbox) with
``bot.services.diary.diary_cb``; :class:`DiaryCb` parses exactly that layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext

from bot.i18n import current_translator
from bot.services import diary
from bot.services.bounds import OptId
from bot.services.diary import (
    DiaryFigures,
    EntryView,
    HouseholdCard,
    HouseholdLine,
    PatrolSummary,
    RevisionView,
    Rights,
)
from bot.services.escape import esc
from handlers.labels import (
    DIARY,  # noqa: F401  (the feature's menu button)
    typable,
)
from handlers.render import ErrorTexts
from models import CareTag, EntryKind, OpinionCategory, RevisionAction

# ------------------------------------------------------------------ labels (reply keyboards)

VISIT = __("🏠 Visit")
OPINION = __("💬 Opinion")
PROBLEM = __("⚠️ Problem")
HERE = __("📍 Here")
END = typable(__("⏹ End patrol"))

LABEL_KINDS = {"visit": EntryKind.visit, "opinion": EntryKind.opinion, "problem": EntryKind.problem}


# ------------------------------------------------------------------ conversations

class DiaryStates(StatesGroup):
    compose = State()  # data: entry, until (ISO): the next messages are added to that entry
    name = State()  # data: entry: the resident's name of an opinion
    edit = State()  # data: entry: the new text
    household = State()  # data: building: "unit label" of a new household


# ------------------------------------------------------------------ callback data

class DiaryCb(CallbackData, prefix="dy"):
    """A diary button.  ``id``: building, household, entry, worker, grid...;
    ``ref``: the entry being tagged (0: a new entry); ``arg``: a kind, a
    category, a unit, a date, a page."""

    action: str
    id: OptId = 0
    ref: OptId = 0
    arg: str = ""


def cb(action: str, id_: int = 0, ref: int = 0, arg: str = "") -> str:
    return DiaryCb(action=action, id=id_, ref=ref, arg=arg).pack()


def button(text: str, action: str, id_: int = 0, ref: int = 0, arg: str = "") -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=cb(action, id_, ref, arg))


def markup(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=[row for row in rows if row])


def tag_row(entry_id: int) -> list[InlineKeyboardButton]:
    """🏠 / 💬 / ⚠️ for a note (or an entry whose kind changes)."""
    return [button(_("🏠 Visit"), "tag", entry_id, arg="visit"), button(_("💬 Opinion"), "tag", entry_id, arg="opinion"),
            button(_("⚠️ Problem"), "tag", entry_id, arg="problem")]


def finish_row(entry_id: int) -> list[InlineKeyboardButton]:
    """Under an entry just started: done with it, or take it back."""
    return [button(_("✅ Finish"), "done", entry_id), button(_("🗑 Undo"), "undo", entry_id)]


T = TypeVar("T")


def paginate(items: Sequence[T], page: int, size: int) -> tuple[list[T], int, int]:
    """The items of ``page`` (kept within the pages there are), that page, and how many pages."""
    pages = max(1, -(-len(items) // size))
    page = min(max(page, 0), pages - 1)
    return list(items[page * size:(page + 1) * size]), page, pages


def page_counter(page: int, pages: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=f"{page + 1}/{pages}", callback_data="noop")


def patrol_keyboard() -> ReplyKeyboardMarkup:
    """The buttons of a worker on patrol: one tap per kind of entry."""
    return ReplyKeyboardMarkup(keyboard=[
        [KeyboardButton(text=str(VISIT)), KeyboardButton(text=str(OPINION)), KeyboardButton(text=str(PROBLEM))],
        [KeyboardButton(text=str(HERE), request_location=True), KeyboardButton(text=str(DIARY)),
         KeyboardButton(text=str(END))],
    ], resize_keyboard=True, is_persistent=True)


# ------------------------------------------------------------------ words

def kind_name(kind: EntryKind) -> str:
    return diary.texts.kind_label(_, kind)


def category_name(kind: EntryKind, category: str | None) -> str:
    return diary.texts.category_label(_, kind, category)


def tag_button_text(tag: CareTag) -> str:
    return f"{diary.texts.TAG_ICONS[tag]} {diary.texts.tag_label(_, tag)}"


OPINION_ICONS = {
    OpinionCategory.environment: "🧹", OpinionCategory.property: "🏢", OpinionCategory.safety: "🛡️",
    OpinionCategory.welfare: "🤝", OpinionCategory.dispute: "⚖️", OpinionCategory.suggestion: "💡",
    OpinionCategory.other: "📌",
}


def opinion_button_text(category: OpinionCategory) -> str:
    return f"{OPINION_ICONS[category]} {diary.texts.opinion_label(_, category)}"


def hm(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%H:%M")


def excerpt(text: str | None, limit: int = 60) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def place_of(e: EntryView) -> str:
    parts = [p for p in (e.building, e.household or (_("unit {unit}").format(unit=e.unit) if e.unit else None)) if p]
    return " · ".join(parts)


def files_of(e: EntryView) -> str:
    marks = []
    if e.photos:
        marks.append(f"📷{e.photos if e.photos > 1 else ''}")
    if e.voices:
        marks.append(f"🎤{e.voices if e.voices > 1 else ''}")
    others = sum(e.files.values()) - e.photos - e.voices - e.files.get("location", 0)
    if others:
        marks.append(f"📎{others}")
    if e.latitude is not None:
        marks.append("📍")
    return " ".join(marks)


def entry_line(e: EntryView, tz: ZoneInfo, number: int | None = None) -> str:
    """One line of a day's list."""
    head = f"{number}. " if number is not None else ""
    parts = [f"{diary.texts.KIND_ICONS[e.kind]} {hm(e.occurred_at, tz)}"]
    category = category_name(e.kind, e.category)
    if category:
        parts.append(category)
    place = place_of(e)
    if place:
        parts.append(place)
    line = head + " · ".join(esc(p) for p in parts)
    if e.resident_name:
        line += " · " + _("said by {name}").format(name=esc(e.resident_name))
    if e.text:
        line += f" — {esc(excerpt(e.text))}"
    files = files_of(e)
    if files:
        line += f" {files}"
    if e.case_number:
        line += " · " + _("case {number}").format(number=esc(e.case_number))
    if e.corrected_later:
        line += " ✏️"
    if e.deleted:
        line = "🗑 <s>" + line + "</s>"
    return line


def entry_card(e: EntryView, tz: ZoneInfo, *, own: bool) -> str:
    lines = [f"{diary.texts.KIND_ICONS[e.kind]} <b>{esc(kind_name(e.kind).capitalize())}</b> · "
             f"{e.occurred_at.astimezone(tz).strftime('%Y-%m-%d %H:%M')}"]
    if not own:
        lines.append(_("By {name}").format(name=esc(e.worker_name)))
    category = category_name(e.kind, e.category)
    if category:
        lines.append(_("Category: {category}").format(category=esc(category)))
    place = place_of(e)
    if place:
        lines.append(_("Where: {place}").format(place=esc(place)))
    if e.kind == EntryKind.opinion:
        lines.append(_("Resident: {name}").format(name=esc(e.resident_name) if e.resident_name else _("anonymous")))
    if e.text:
        lines.append(f"“{esc(e.text)}”")
    files = files_of(e)
    if files:
        lines.append(files)
    if e.case_number:
        lines.append(_("📋 Case {number}").format(number=esc(e.case_number)))
    if e.corrected_later:
        lines.append(_("✏️ Corrected after its day; see the history."))
    if e.deleted:
        lines.append(_("🗑 Deleted (kept in the history)."))
    return "\n".join(lines)


def entry_buttons(e: EntryView, r: Rights) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if r.edit:
        if e.kind == EntryKind.note:
            rows.append(tag_row(e.id))
        rows.append([button(_("✏️ Edit text"), "edit", e.id)])
        if e.kind in (EntryKind.visit, EntryKind.opinion):
            rows.append([button(_("🗂 Category"), "cat", e.id)])
        if e.kind == EntryKind.opinion:
            rows.append([button(_("👤 Resident's name"), "name", e.id)])
        if e.kind == EntryKind.problem and e.case_id is None:
            rows.append([button(_("📋 Make it a case"), "case", e.id)])
        if e.kind != EntryKind.note and e.case_id is None:
            rows.append([button(_("🏷 Change the kind"), "retag", e.id)])
        if r.delete and e.case_id is None:
            rows.append([button(_("🗑 Delete"), "del", e.id)])
    if sum(e.files.values()):
        rows.append([button(_("📎 Show photos and files"), "files", e.id)])
    rows.append([button(_("🕘 History"), "hist", e.id)])
    rows.append([button(_("📖 Back to the day"), "day", e.worker_id, arg=e.day.isoformat())])
    return markup(rows)


def summary_text(s: PatrolSummary, tz: ZoneInfo) -> str:
    lines = [_("⏹ Patrol ended. {start} – {end} ({duration})").format(
        start=hm(s.started_at, tz), end=hm(s.ended_at, tz) if s.ended_at else "…",
        duration=diary.texts.duration(_, s.minutes))]
    lines.append(_("Visits {visits} · opinions {opinions} · problems {problems} · notes {notes}").format(
        visits=s.visits, opinions=s.opinions, problems=s.problems, notes=s.notes))
    if s.cases:
        lines.append(_("Cases opened: {count}").format(count=s.cases))
    if s.buildings:
        lines.append(_("Buildings: {names}").format(names=esc("、".join(s.buildings))))
    if s.notes:
        lines.append(_("Notes not tagged yet: {count}. Tap a note below to tag it.").format(count=s.notes))
    return "\n".join(lines)


def revision_line(r: RevisionView, tz: ZoneInfo) -> str:
    action = {
        RevisionAction.created: _("created"),
        RevisionAction.added: _("added to"),
        RevisionAction.edited: _("edited"),
        RevisionAction.tagged: _("tagged"),
        RevisionAction.deleted: _("deleted"),
        RevisionAction.case_opened: _("made a case"),
    }[r.action]
    snap = r.snapshot
    kind = EntryKind(snap.get("kind", "note"))
    what = f"{diary.texts.KIND_ICONS[kind]} {kind_name(kind)}"
    category = category_name(kind, snap.get("category"))
    if category:
        what += f" · {category}"
    line = f"v{r.version} · {r.at.astimezone(tz).strftime('%m-%d %H:%M')} · {esc(action)} ({esc(r.by)})"
    if r.late:
        line += " · " + _("later correction")
    line += f"\n   {esc(what)}"
    if snap.get("text"):
        line += f" — “{esc(excerpt(snap['text'], 120))}”"
    if snap.get("resident_name"):
        line += " · " + esc(snap["resident_name"])
    files = len(snap.get("attachments") or [])
    if files:
        line += f" · 📎{files}"
    return line


def figures_text(f: DiaryFigures) -> str:
    lines = [
        _("🚶 Patrols: {count} ({duration}) · days with entries: {days}").format(
            count=f.patrols, duration=diary.texts.duration(_, f.patrol_minutes), days=f.days_logged),
        _("🏠 Visits: {count} (households: {households})").format(count=f.visits, households=f.households_visited),
    ]
    for tag in CareTag:
        n = f.visits_by_category.get(tag.value, 0)
        if n:
            lines.append(f"   {diary.texts.TAG_ICONS[tag]} " + _("{label}: {value}").format(
                label=esc(diary.texts.tag_label(_, tag)), value=n))
    lines.append(_("💬 Opinions: {count}").format(count=f.opinions))
    for category in OpinionCategory:
        n = f.opinions_by_category.get(category.value, 0)
        if n:
            lines.append(f"   {OPINION_ICONS[category]} " + _("{label}: {value}").format(
                label=esc(diary.texts.opinion_label(_, category)), value=n))
    lines.append(_("⚠️ Problems: {count} (made cases: {cases})").format(count=f.problems, cases=f.cases_opened))
    lines.append(_("✅ Cases closed: {count}").format(count=f.cases_closed))
    if f.notes:
        lines.append(_("📝 Untagged notes: {count}").format(count=f.notes))
    return "\n".join(lines)


def household_line(h: HouseholdLine, *, with_building: bool = True) -> str:
    tags = "".join(diary.texts.TAG_ICONS[t] for t in h.tags)
    place = " ".join(p for p in ((h.building if with_building else ""), h.unit or "", h.label) if p)
    text = f"{tags} {esc(place)}".strip()
    if h.due_on is not None and h.overdue_days > 0:
        text += " · " + _("overdue {days} d").format(days=h.overdue_days)
    elif h.due_on is not None and h.overdue_days == 0:
        text += " · " + _("due today")
    return text


def household_card_text(card: HouseholdCard, tz: ZoneInfo) -> str:
    h = card.household
    lines = [f"🏠 <b>{esc(h.label)}</b>", esc(" · ".join(p for p in (h.building, h.unit) if p))]
    if h.tags:
        for tag, days in h.tags.items():
            lines.append(f"{diary.texts.TAG_ICONS[tag]} " + _("{label}: {value}").format(
                label=esc(diary.texts.tag_label(_, tag)), value=esc(diary.texts.interval_label(current_translator(), days))))
    else:
        lines.append(_("No tags: no regular visits asked."))
    if h.last_visit_at is not None:
        lines.append(_("Last visit: {when}").format(when=h.last_visit_at.astimezone(tz).strftime("%Y-%m-%d")))
    else:
        lines.append(_("Not visited yet."))
    if h.due_on is not None:
        lines.append(_("Next visit due: {day}").format(day=h.due_on.isoformat())
                     + (" ⏰" if h.overdue_days >= 0 else ""))
    for v in card.visits:
        lines.append(f"   • {v.occurred_at.astimezone(tz).strftime('%m-%d')} {esc(v.worker)}")
    return "\n".join(lines)


def tag_cycle_text(tag: CareTag, days: int | None) -> str:
    state = diary.texts.interval_label(current_translator(), days) if days else _("off")
    return f"{diary.texts.TAG_ICONS[tag]} " + _("{label}: {value}").format(label=diary.texts.tag_label(_, tag), value=state)


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def fit(lines: list[str], limit: int = 4000, keep_first: int | None = None) -> str:
    """Whole lines within Telegram's message length (an HTML tag is never cut).

    Without ``keep_first`` the lines that do not fit are left off the end;
    with it, those first lines are kept and the oldest of the rest left out.
    """
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    if keep_first is None:
        out: list[str] = []
        for line in lines:
            if len("\n".join([*out, line, "…"])) > limit:
                break
            out.append(line)
        return "\n".join([*out, "…"])
    head, tail = lines[:keep_first], lines[keep_first:]
    while tail and len("\n".join([*head, "…", *tail])) > limit:
        tail = tail[1:]
    return "\n".join([*head, "…", *tail])


def ym(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


def day_nav(action: str, id_: int, day: date, today: date) -> list[InlineKeyboardButton]:
    row = [button("◀️", action, id_, arg=(day - timedelta(days=1)).isoformat())]
    if day < today:
        row.append(button("▶️", action, id_, arg=(day + timedelta(days=1)).isoformat()))
    return row


def month_nav(action: str, id_: int, year: int, month: int, today: date) -> list[InlineKeyboardButton]:
    row = [button("◀️", action, id_, arg=ym(*shift_month(year, month, -1)))]
    if (year, month) < (today.year, today.month):
        row.append(button("▶️", action, id_, arg=ym(*shift_month(year, month, 1))))
    return row


# ------------------------------------------------------------------ errors

# The texts of the diary error codes (handlers.refusal asks every room's table).
ERRORS: ErrorTexts = {
    "no_patrol": __("You are not on patrol. Tap 📒 Patrol diary → ▶️ Start patrol."),
    "household_consent_needed": __("First ask the household and tap “The household agreed”."),
    "choose_grid": __("Which grid are you patrolling?"),
    "entry": __("That diary entry is not available."),
    "entry_deleted": __("That entry was deleted."),
    "delete_same_day": __("Entries can only be deleted on the day they were logged. "
                          "You can still correct it; the change is kept in its history."),
    "entry_locked": lambda p: ngettext("Entries older than {days} day can no longer be changed.",
                                       "Entries older than {days} days can no longer be changed.",
                                       p["days"]).format_map(p),
    "not_author": __("Only the worker who logged it can change it."),
    "visit_needs_building": __("A visit needs a building: choose one."),
    "bad_category": __("That category is not available."),
    "bad_kind": __("That kind is not available."),
    "bad_place": __("Only visits have a building."),
    "bad_interval": __("That visit interval is not available."),
    "household": __("That household is not on your ledger."),
    "building": __("That building is not in your grid."),
    "worker": __("That worker is not in your grids."),
    "grid": __("That grid is not yours to see."),
    "community": __("That community is not yours to see."),
    "month": __("That month is not available."),
    "has_case": __("This problem is already a case: it stays as it is."),
    "case_exists": __("Already case {number}."),
    "not_problem": __("Only a problem can become a case."),
    "problem_empty": __("Describe the problem first: a few words, a photo or a voice message."),
    "not_opinion": __("Only opinions have a resident's name."),
    "text_too_long": __("That is too long: at most {limit} characters, please."),
    "empty_text": __("Please write something."),
    "too_many_files": __("That is enough files for one entry (at most {limit})."),
    "bad_file": __("I could not keep that file. Please send it again."),
    # A day typed after /diary (bot.services.dates.parse_date).
    "bad_date": __("Write the day like 11-20 or 2026-11-20 (not in the future)."),
    "date_in_future": __("Write the day like 11-20 or 2026-11-20 (not in the future)."),
}

