"""Cases: one-stop intake, warm-heart proxy errands and the closed loop.

The feature is split by concern; this module is its front door::

    cases_intake      drafts, sending, "follow this similar case instead"
    cases_loop        accept, start, resolve, confirm / reopen, withdraw, rate, auto-close
    cases_relay       resident <-> worker messages, internal notes, canned replies, handovers
    cases_escalation  time limits, departments (吹哨报到), emergencies
    cases_views       lists, the inbox, one case with its timeline, attachments
    cases_figures     completion, on-time, rework, satisfaction... from the events
    cases_jobs        the recurring sweeps (imported here so they are registered)
    cases_common      permissions, events, numbering, notifications
"""

from __future__ import annotations

from bot.services.cases import jobs as cases_jobs  # noqa: F401  (registers the recurring jobs)
from bot.services.cases.common import Capacity, case_cb, esc_cb
from bot.services.cases.escalation import (
    acknowledge_emergency,
    acknowledge_escalation,
    call_department,
    departments,
    emergency_tick,
    flag_emergency,
    report_back,
    reportable,
    sweep_accept_overdue,
    sweep_department_overdue,
    sweep_handling_overdue,
)
from bot.services.cases.intake import (
    DraftSummary,
    FileRef,
    SimilarCase,
    add_file,
    add_location,
    add_text,
    catalogue,
    discard_draft,
    follow_instead,
    parse_date,
    pending_draft,
    set_authorisation,
    set_needed_by,
    similar_cases,
    start_draft,
    start_for_service,
    submit,
    summary,
)
from bot.services.cases.loop import (
    accept,
    auto_close_due,
    comment_rating,
    confirm,
    rate,
    reopen,
    resolve,
    start_work,
    withdraw,
)
from bot.services.cases.relay import (
    Relayed,
    add_note,
    canned_editable,
    canned_for_case,
    create_canned,
    delete_canned,
    log_handover,
    send_canned,
    send_message,
    update_canned,
)
from bot.services.cases.views import (
    CaseBrief,
    CaseView,
    attachments,
    inbox,
    my_cases,
    open_escalations,
    view,
)

__all__ = [
    "Capacity", "case_cb", "esc_cb",
    "acknowledge_emergency", "acknowledge_escalation", "call_department", "departments", "emergency_tick",
    "flag_emergency", "report_back", "reportable", "sweep_accept_overdue", "sweep_department_overdue", "sweep_handling_overdue",
    "DraftSummary", "FileRef", "SimilarCase", "add_file", "add_location", "add_text", "catalogue", "discard_draft",
    "follow_instead", "parse_date", "pending_draft", "set_authorisation", "set_needed_by", "similar_cases",
    "start_draft", "start_for_service", "submit", "summary",
    "accept", "auto_close_due", "comment_rating", "confirm", "rate", "reopen", "resolve", "start_work", "withdraw",
    "Relayed", "add_note", "canned_editable", "canned_for_case", "create_canned", "delete_canned", "log_handover",
    "send_canned", "send_message", "update_canned",
    "CaseBrief", "CaseView", "attachments", "inbox", "my_cases", "open_escalations", "view",
]
