"""Shared pieces of the case handlers: reply-keyboard labels, conversation
states, callback data, keyboards, and the rendering of cards, lists and errors.

Services build some buttons themselves (notifications in the outbox) with
``bot.services.cases.case_cb``/``esc_cb``; :class:`CaseCb` and
:class:`EscCb` here parse exactly that layout.
"""

from __future__ import annotations

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
from aiogram.utils.keyboard import ReplyKeyboardBuilder

from bot.services import cases
from bot.services.bounds import OptId, Page
from bot.services.cases import Capacity, CaseBrief, CaseView, DraftSummary
from bot.services.escape import esc
from handlers import labels
from handlers.filters import UserFilter
from handlers.labels import ASK_HELP, CANNED, INBOX, MY_CASES, REPORT, typable  # noqa: F401  (the feature's menu buttons)
from handlers.render import ErrorTexts
from models import CaseEventType, CaseKind, CaseStatus, User

# ------------------------------------------------------------------ labels (reply keyboards)

SEND = typable(__("✅ Send"))
CANCEL = __("❌ Cancel")
EMERGENCY = typable(__("🆘 Emergency"))
DONE = typable(__("✅ Done"))


# ------------------------------------------------------------------ conversations

class CaseIntake(StatesGroup):
    collect = State()  # data: draft; text, photos, voice, documents, location until Send
    when = State()  # proxy errands: by when
    authorise = State()  # proxy errands: what the worker may do
    route = State()  # data: draft, talk (a case); free words while a worker talks to her: reply or new request?


class CaseChat(StatesGroup):
    talk = State()  # data: chat_case; every message is relayed


class CaseResolve(StatesGroup):
    note = State()  # data: resolve_case
    photo = State()  # data: resolve_case, resolve_note


class CaseRate(StatesGroup):
    comment = State()  # data: rate_case


class CaseNote(StatesGroup):
    text = State()  # data: note_case


class CaseDept(StatesGroup):
    note = State()  # data: dept_case, dept_id
    report = State()  # data: esc_id


class CaseHandover(StatesGroup):
    document = State()  # data: ho_case, ho_dir
    photo = State()  # data: ho_case, ho_dir, ho_doc


class CannedEdit(StatesGroup):
    title = State()
    text = State()  # data: canned_title or canned_id


# ------------------------------------------------------------------ callback data

class CaseCb(CallbackData, prefix="cs"):
    """An action on a case; ``arg`` is a score, a department, a template..."""

    action: str
    id: OptId
    arg: OptId = 0


class EscCb(CallbackData, prefix="ce"):
    """A department officer's action on an escalation."""

    action: str
    id: OptId


class IntakeCb(CallbackData, prefix="ci"):
    """Intake steps: svc (a catalogue item), when (days), auth (an option), follow (a case),
    anyway, resume, discard, emg (confirm an emergency)."""

    action: str
    id: OptId = 0


class InboxCb(CallbackData, prefix="cx"):
    page: Page


class CannedCb(CallbackData, prefix="cr"):
    action: str  # new, edit, del
    id: OptId = 0


# ------------------------------------------------------------------ keyboards

def intake_keyboard() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.row(KeyboardButton(text=str(SEND)))
    kb.row(KeyboardButton(text=_("📍 Send my location"), request_location=True))
    kb.row(KeyboardButton(text=str(EMERGENCY)))
    kb.row(KeyboardButton(text=str(CANCEL)))
    return kb.as_markup(resize_keyboard=True, is_persistent=True)


def done_keyboard() -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.row(KeyboardButton(text=str(DONE)))
    return kb.as_markup(resize_keyboard=True, is_persistent=True)


def skip_keyboard(*, cancel: bool = False) -> ReplyKeyboardMarkup:
    kb = ReplyKeyboardBuilder()
    kb.row(KeyboardButton(text=str(labels.SKIP)))
    if cancel:
        kb.row(KeyboardButton(text=str(CANCEL)))
    return kb.as_markup(resize_keyboard=True, one_time_keyboard=True)


def rows(*buttons: InlineKeyboardButton | None) -> InlineKeyboardMarkup:
    """One button per row (big buttons), skipping ``None``."""
    return InlineKeyboardMarkup(inline_keyboard=[[b] for b in buttons if b is not None])


def button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data.pack())


def rating_keyboard(case_id: int) -> InlineKeyboardMarkup:
    return rows(*(button(f"{cases.stars(n)} {n}", CaseCb(action="rate", id=case_id, arg=n)) for n in range(5, 0, -1)))


# ------------------------------------------------------------------ filters

class HasHome(UserFilter):
    """A registered resident (a home building is set)."""

    def allows(self, user: User | None) -> bool:
        return user is not None and user.building_id is not None and user.registered_at is not None


# ------------------------------------------------------------------ rendering

def summary_text(s: DraftSummary) -> str:
    """What an unsent request holds so far ("your words, photos: 2")."""
    counted = ((s.photos, _("photos: {n}")), (s.voices, _("voice messages: {n}")),
               (s.documents, _("documents: {n}")))
    parts = [_("your words")] if s.text_length else []
    parts.extend(label.format(n=n) for n, label in counted if n)
    if s.locations:
        parts.append(_("location"))
    return ", ".join(parts)


BRIEF_MAX = 26  # a case button: 28 characters at most (issue 20), with room for a mark in front ("👀 ", "📌 ")


def brief_line(b: CaseBrief, tz) -> str:  # type: ignore[no-untyped-def]
    """A case on a button: status (icons), number, item; never the description (that is in the card)."""
    marks = ("🆘" if b.emergency_open else "") + ("⏰" if b.overdue else "") + cases.status_icon(b.status)
    head = f"{marks} {b.number} "
    item = b.item or cases.kind_label(_, b.kind)
    room = BRIEF_MAX - len(head)
    return head + (item if len(item) <= room else item[: max(room - 1, 0)] + "…")


def case_card(v: CaseView, tz, *, limit_notes: int = 300) -> str:  # type: ignore[no-untyped-def]
    """The card of one case for its reader; older timeline lines give way to Telegram's 4096 characters."""
    text = _case_card(v, tz, limit_notes)
    while len(text) > 4000 and v.timeline:
        v.timeline = v.timeline[1:]
        text = _case_card(v, tz, limit_notes)
    return text[:4000]


def _case_card(v: CaseView, tz, limit_notes: int) -> str:  # type: ignore[no-untyped-def]
    c = v.case
    resident_side = not (v.caps - {Capacity.resident, Capacity.follower})
    lines = [f"<b>{esc(c.number)}</b> · {esc(v.title)}"]
    if c.emergency:
        lines.append(_("🆘 Emergency") + (" · " + _("acknowledged") if c.emergency_ack_at else ""))
    lines.append(_("Status: {status}").format(status=cases.status_label(_, c.status, c.close_reason)))
    lines.append(_("Kind: {kind}").format(kind=cases.kind_label(_, c.kind)))
    if v.building:
        lines.append(_("Place: {building}").format(building=esc(v.building)) + (f" ({esc(v.address)})" if v.address
                                                                               and not resident_side else ""))
    if c.latitude is not None and c.longitude is not None and not resident_side:
        lines.append(_("📍 Location attached"))
    if v.resident_name is not None:
        lines.append(_("Resident: {name}").format(name=esc(v.resident_name))
                     + (f" · 📞 {esc(v.resident_phone)}" if v.resident_phone else ""))
    if not resident_side:
        lines.append(_("Handled by: {name}").format(name=esc(v.owner_name) if v.owner_name else _("nobody yet")))
    elif v.has_owner:
        lines.append(_("Your grid worker: {name}").format(name=esc(v.owner_name)) if v.owner_name
                     else _("A grid worker is handling it."))
    if c.status == CaseStatus.new and c.accept_due_at:
        mark = " ⏰" if v.accept_overdue else ""
        lines.append(_("To be accepted by: {when}").format(when=cases.when(c.accept_due_at, tz)) + mark)
    if c.status in (CaseStatus.new, CaseStatus.accepted, CaseStatus.in_progress, CaseStatus.reopened) \
            and c.resolve_due_at:
        mark = " ⏰" if v.resolve_overdue else ""
        lines.append(_("To be done by: {when}").format(when=cases.when(c.resolve_due_at, tz)) + mark)
    if c.kind == CaseKind.proxy:
        if c.needed_by:
            lines.append(_("Needed by: {date}").format(date=c.needed_by.isoformat()))
        if v.authorisation:
            lines.append(_("Authorised: {text}").format(text=esc(v.authorisation)))
    if v.description:
        text = v.description if len(v.description) <= limit_notes else v.description[: limit_notes - 1] + "…"
        lines.append("📝 " + esc(text))
    if v.attachments:
        lines.append(_("📎 Attachments: {count}").format(count=v.attachments))
    if v.followers and not resident_side:
        lines.append(ngettext("👥 Also reported by {count} neighbour", "👥 Also reported by {count} neighbours",
                              v.followers).format(count=v.followers))
    for e in v.escalations:
        state = (_("reported back") if e.reported_at else _("acknowledged") if e.acknowledged_at
                 else _("waiting for acknowledgement"))
        lines.append(f"🏛️ {esc(e.department)}: {state}")
        if e.report and not resident_side:
            lines.append("   “" + esc(e.report[:200]) + "”")
    if v.handovers:
        lines.append(_("Documents that changed hands:"))
        lines.extend(cases.handover_line(_, h) for h in v.handovers)
    if v.resolution and c.status in (CaseStatus.resolved, CaseStatus.closed):
        lines.append(_("Result: {text}").format(text=esc(v.resolution[:limit_notes])))
    if v.rating is not None:
        lines.append(_("Rating: {stars}").format(stars=cases.stars(v.rating.score))
                     + (f" “{esc(v.rating.comment[:200])}”" if v.rating.comment else ""))
    lines.append("")
    lines.append(_("<b>Timeline</b>") + (_(" (latest {shown} of {total})").format(
        shown=len(v.timeline), total=v.events_total) if v.events_total > len(v.timeline) else ""))
    for e in v.timeline:
        who = cases.actor_label(_, e.role, for_resident=resident_side, name=e.actor_name)
        if e.by_family:
            who = _("👪 family member") + (f" {e.actor_name}" if e.actor_name else "")
        line = f"• {cases.when(e.at, tz)[5:]} {cases.event_label(_, e.type)} ({esc(who)})"
        if e.type == CaseEventType.rated and e.data.get("score"):
            line += " " + cases.stars(int(e.data["score"]))
        if e.note:
            line += ": " + esc(e.note[:120] + ("…" if len(e.note) > 120 else ""))
        lines.append(line)
    return "\n".join(lines)


MAX_CARD_BUTTONS = 5  # a busy worker's card: the rest behind "More" (issue 20)
# The order buttons take on a card: what moves the case on first.
CARD_ORDER = ("eack", "acc", "take", "start", "res", "ok", "nok", "chat", "rate", "asg", "rmd", "canned", "dept",
              "vol", "ho", "emg", "wd", "prv", "pub", "note", "files")


def card_keyboard(v: CaseView, *, more: bool = False) -> InlineKeyboardMarkup:
    """At most :data:`MAX_CARD_BUTTONS` buttons: when there are more, the first four and
    "➕ More"; ``more`` is the rest of them, with Refresh and "⬅️ Back"."""
    cid = v.case.id
    labels_ = {
        "acc": _("✅ Accept"),
        "eack": _("🆘 I'm on it"),
        "take": _("✋ Take it myself"),
        "asg": _("👤 Assign to a worker"),
        "rmd": _("🔔 Remind"),
        "start": _("▶️ Start work"),
        "chat": _("💬 Write to your worker") if Capacity.resident in v.caps else _("💬 Message the resident"),
        "canned": _("💬 Send a template reply"),
        "res": _("✅ Mark as done"),
        "dept": _("🏛️ Call in a department"),
        "ho": _("📄 Log a document handover"),
        "vol": _("🙋 Offer to volunteers"),
        "note": _("📝 Internal note"),
        "ok": _("✅ Solved, I sign off") if v.case.kind == CaseKind.proxy else _("✅ Solved"),
        "nok": _("❌ Not solved"),
        "rate": _("⭐ Rate the service"),
        "emg": _("🆘 Emergency"),
        "wd": _("🗑 Withdraw my case"),
        "prv": _("🔒 Keep it private"),
        "pub": _("🌐 Allow it to be public"),
        "files": _("📎 Show attachments"),
    }
    out: list[InlineKeyboardButton] = []
    for action in v.actions:  # a department's own requests first
        if action.startswith(("eack:", "erep:")):
            kind, esc_id = action.split(":")
            text = _("👌 Acknowledge") if kind == "eack" else _("📝 Report back")
            out.append(button(text, EscCb(action="ack" if kind == "eack" else "rep", id=int(esc_id))))
    for action in sorted((a for a in v.actions if a in labels_), key=CARD_ORDER.index):
        out.append(button(labels_[action], CaseCb(action="ratep" if action == "rate" else action, id=cid)))
    refresh = button(_("🔄 Refresh"), CaseCb(action="rfr", id=cid))
    if len(out) + 1 <= MAX_CARD_BUTTONS:
        return rows(*out, refresh)
    if more:
        return rows(*out[MAX_CARD_BUTTONS - 1:], refresh, button(_("⬅️ Back"), CaseCb(action="less", id=cid)))
    return rows(*out[:MAX_CARD_BUTTONS - 1], button(_("➕ More"), CaseCb(action="more", id=cid)))


def cancel(case_id: int) -> InlineKeyboardButton:
    """The "❌ Cancel" under every worker prompt or list about a case."""
    return button(str(CANCEL), CaseCb(action="stop", id=case_id))


def cancel_button(case_id: int) -> InlineKeyboardMarkup:
    """A prompt's only button: :func:`cancel`."""
    return rows(cancel(case_id))


# The texts of the case error codes (handlers.refusal asks every room's table).
ERRORS: ErrorTexts = {
    "case": __("That case is not available."),
    "draft": __("That request is no longer being written. Start again from the menu."),
    "already_sent": __("Already sent as case {number}."),
    "draft_empty": __("Please tell me what you need first: type it, or send a photo or a voice message."),
    "authorisation_missing": __("Please say what your grid worker may do for you."),
    "no_home": __("Please set your home building first, in 👤 My profile."),
    "service": __("That service is no longer offered. Please choose again."),
    "text_too_long": __("That is too long: at most {limit} characters, please."),
    "empty_text": __("Please write something."),
    "too_many_files": __("That is enough files for one case (at most {limit})."),
    "bad_date": __("I could not read that date. Please write it like 12-24."),
    "date_in_past": __("That date has passed. Please choose a later one."),
    "date_too_far": __("That date is too far ahead. Please choose one within a year."),
    "not_proxy": __("That only applies to proxy errands."),
    "case_taken": __("Sorry, case {number} has already been taken by a colleague."),
    "already_yours": __("Case {number} is already yours."),
    "case_closed": __("Case {number} is closed."),
    "wrong_status": __("That cannot be done at this stage of case {number}."),
    "already_started": __("Work on case {number} has already started."),
    "photo_only": __("Please send a photo (or tap Skip)."),
    "bad_score": __("Please choose 1 to 5 stars."),
    "not_closed": __("Case {number} can be rated once it is closed."),
    "already_rated": __("You have already rated case {number}. Thank you!"),
    "not_rated": __("Please choose the stars first."),
    "already_commented": __("You have already commented on case {number}."),
    "not_owner": __("Only the worker handling this case can write to the resident."),
    "canned": __("That template is no longer available."),
    "already_escalated": __("That department is already working on case {number}."),
    "department": __("That department is no longer available."),
    "escalation": __("That request is not for your department."),
    "already_acknowledged": __("Already acknowledged."),
    "already_reported": __("Your department has already reported back on case {number}."),
    "already_emergency": __("Case {number} is already an emergency; the team is being alerted."),
    "not_emergency": __("Case {number} is not an emergency."),
    "emergency_acknowledged": __("Someone has already taken charge of emergency {number}."),
    "holiday_unknown": __("That day is not marked."),
    # The caps are settings (1 is allowed), the waits count down: each text has its plural forms.
    "too_many_open": lambda p: ngettext(
        "You already have {limit} open case. Please wait until it is finished, or add to it in 📂 My cases.",
        "You already have {limit} open cases. Please wait until one is finished, or add to an open one in 📂 My "
        "cases.", p["limit"]).format_map(p),
    "too_many_today": lambda p: ngettext("You have sent {limit} case today. Please send more tomorrow.",
                                         "You have sent {limit} cases today. Please send more tomorrow.",
                                         p["limit"]).format_map(p),
    "too_many_emergencies": lambda p: ngettext(
        "You have already raised {limit} emergency today, so I cannot alert the team again. If life is in "
        "danger, call 110 or 120 now. You can still send this as a normal case.",
        "You have already raised {limit} emergencies today, so I cannot alert the team again. If life is in "
        "danger, call 110 or 120 now. You can still send this as a normal case.", p["limit"]).format_map(p),
    "emergency_cooldown": lambda p: ngettext(
        "Case {number} was marked an emergency a short while ago. It can be marked again in {minutes} minute. "
        "If life is in danger, call 110 or 120 now.",
        "Case {number} was marked an emergency a short while ago. It can be marked again in {minutes} minutes. "
        "If life is in danger, call 110 or 120 now.", p["minutes"]).format_map(p),
    "relay_busy": __("Too many messages about case {number} this hour (at most {limit}). Please try again "
                     "later."),
    "own_case": __("You filed case {number} yourself: a colleague must handle and confirm it."),
    "not_checker": __("Case {number} was found on patrol: a colleague of the grid who neither found nor "
                      "fixed it confirms it."),
    "not_rated_here": __("Case {number} cannot be rated by you."),
    "already_theirs": __("That worker already handles case {number}."),
    "recently_reminded": lambda p: ngettext(
        "Case {number} was reminded a short while ago; you can remind again in {minutes} minute.",
        "Case {number} was reminded a short while ago; you can remind again in {minutes} minutes.",
        p["minutes"]).format_map(p),
    "worker": __("That worker is no longer in the case's grid."),
}

