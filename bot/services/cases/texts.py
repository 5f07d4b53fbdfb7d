"""Words for cases, shared by the handlers (with aiogram's ``gettext``) and the
services' notifications (with :func:`bot.services.l10n.translator`).

Every function takes the translation function ``_`` of the reader.  Nothing
here ever names a worker or an officer to a resident: residents read roles
("your grid worker", a department's name), never people.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.services.escape import esc
from bot.services.l10n import Translate
from models import (
    ActorRole,
    CaseEventType,
    CaseHandover,
    CaseKind,
    CaseStatus,
    CloseReason,
    HandoverDirection,
)


def when(moment: datetime | None, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "—"


def status_label(_: Translate, status: CaseStatus, close_reason: CloseReason | None = None) -> str:
    if status == CaseStatus.closed:
        return {
            CloseReason.confirmed: _("closed: solved"),
            CloseReason.auto: _("closed automatically"),
            CloseReason.withdrawn: _("withdrawn"),
        }.get(close_reason, _("closed")) if close_reason else _("closed")
    return {
        CaseStatus.draft: _("not sent yet"),
        CaseStatus.new: _("waiting for a worker"),
        CaseStatus.accepted: _("accepted"),
        CaseStatus.in_progress: _("in progress"),
        CaseStatus.resolved: _("done, waiting for your answer"),
        CaseStatus.reopened: _("reopened"),
    }[status]


def status_icon(status: CaseStatus) -> str:
    return {
        CaseStatus.draft: "✏️", CaseStatus.new: "🆕", CaseStatus.accepted: "👷", CaseStatus.in_progress: "🔧",
        CaseStatus.resolved: "✅", CaseStatus.reopened: "↩️", CaseStatus.closed: "📁",
    }[status]


def kind_label(_: Translate, kind: CaseKind) -> str:
    return {
        CaseKind.proxy: _("proxy errand"),
        CaseKind.report: _("problem report"),
        CaseKind.request: _("request"),
    }[kind]


def actor_label(_: Translate, role: ActorRole, *, for_resident: bool, name: str | None = None) -> str:
    """Who did it, as the reader may know it."""
    label = {
        ActorRole.resident: _("resident"),
        ActorRole.worker: _("grid worker"),
        ActorRole.grid_head: _("grid head"),
        ActorRole.staff: _("community"),
        ActorRole.department: _("department"),
        ActorRole.admin: _("district"),
        ActorRole.building_head: _("building head"),
        ActorRole.unit_head: _("unit head"),
        ActorRole.volunteer: _("volunteer"),
        ActorRole.system: _("system"),
    }[role]
    if for_resident:
        return _("you") if role == ActorRole.resident else label  # never a name: a volunteer stays anonymous
    return f"{label} {name}" if name and role != ActorRole.system else label


def event_label(_: Translate, type_: CaseEventType) -> str:
    return {
        CaseEventType.submitted: _("sent"),
        CaseEventType.follower_joined: _("another resident reported the same"),
        CaseEventType.accepted: _("accepted"),
        CaseEventType.started: _("work started"),
        CaseEventType.message: _("message"),
        CaseEventType.note: _("internal note"),
        CaseEventType.handover: _("document handover"),
        CaseEventType.resolved: _("marked as done"),
        CaseEventType.confirmed: _("confirmed solved"),
        CaseEventType.reopened: _("not solved: reopened"),
        CaseEventType.auto_closed: _("closed automatically"),
        CaseEventType.withdrawn: _("withdrawn"),
        CaseEventType.rated: _("rated"),
        CaseEventType.accept_overdue: _("not accepted in time: grid head alerted"),
        CaseEventType.handling_overdue: _("past its deadline: community secretary alerted"),
        CaseEventType.dept_called: _("department called in"),
        CaseEventType.dept_acknowledged: _("department acknowledged"),
        CaseEventType.dept_ack_overdue: _("department late to acknowledge"),
        CaseEventType.dept_reported: _("department reported back"),
        CaseEventType.emergency_flagged: _("flagged as an emergency"),
        CaseEventType.emergency_alerted: _("emergency alert sent"),
        CaseEventType.emergency_acknowledged: _("emergency acknowledged"),
        CaseEventType.returned: _("returned to the queue: the worker's role ended"),
        CaseEventType.accept_reminder: _("the grid's workers reminded to accept it"),
        CaseEventType.escalated: _("still nobody acted: the next level alerted"),
        CaseEventType.assigned: _("given to another worker"),
        CaseEventType.reminded: _("reminded"),
        CaseEventType.volunteer_offered: _("offered to the community's volunteers"),
        CaseEventType.volunteer_helping: _("a volunteer is helping"),
        CaseEventType.volunteer_done: _("the volunteer reports their part done"),
    }[type_]


def emergency_numbers(_: Translate) -> str:
    return _("🚨 If anyone is in danger, call now:\n📞 110 police\n📞 119 fire\n📞 120 ambulance\n"
             "Gas smell: do not switch anything on or off, open the windows, leave, then call 119.")


def stars(score: int) -> str:
    return "⭐" * max(0, min(5, score))


def handover_line(_: Translate, h: CaseHandover) -> str:
    """One document that changed hands during a proxy errand (HTML-escaped)."""
    if h.direction == HandoverDirection.to_worker:
        return "📥 " + _("received from the resident: {document}").format(document=esc(h.document))
    return "📤 " + _("given to the resident: {document}").format(document=esc(h.document))
