"""Cases: one-stop intake, warm-heart proxy errands and the closed loop.

This module is the feature's public face: handlers, other features, the
sandbox and the benchmarks use the case services only through the names
below (``from bot.services import cases`` then ``cases.accept(...)``).  The
modules behind it import each other directly, never through here::

    common      permissions, events, numbering, notifications, FileRef, resident_side
    texts       words shared by the handlers and the notifications
    intake      drafts, sending, "follow this similar case instead", problems found on patrol
    external    cases filed by another system (Open311), sent at once; a resident keeping a case private
    behalf      a building (unit) head files for a neighbour without Telegram
    volunteers  proxy errands offered to the community's volunteers: Take (first wins), done
    emergency   emergencies: alerts up the chain until someone takes charge
    loop        accept, start, resolve, confirm / reopen, withdraw, rate, auto-close,
                taking charge of an emergency
    relay       resident <-> worker messages, internal notes, canned replies, handovers
    escalation  time limits, departments (吹哨报到)
    oversight   escalations with handles: the reminder before the acceptance limit, the climb up
                the chain, assign / remind / take by grid heads and staff
    views       lists, the inbox, one case with its timeline, attachments
    figures     completion, on-time, rework, satisfaction... from the events (reports, diary)
    limits      caps against one user flooding the grid (open cases, emergencies, relay)
    jobs        the recurring sweeps (imported here so they are registered)

Import order (no cycles): common → texts; limits (caps against floods) → nothing of ours;
emergency → common, limits; intake, loop → emergency; external → intake; behalf → intake;
relay, views, volunteers → common; oversight → loop; escalation → oversight; jobs → escalation,
emergency, loop, oversight.
"""

from __future__ import annotations

from bot.services.cases import jobs as cases_jobs  # noqa: F401  (registers the recurring jobs)
from bot.services.cases.behalf import file_for_neighbour
from bot.services.cases.common import Capacity, FileRef, case_cb, esc_cb, found_on_patrol
from bot.services.cases.emergency import emergency_tick, flag_emergency
from bot.services.cases.escalation import (
    acknowledge_escalation,
    call_department,
    departments,
    report_back,
    reportable,
    sweep_accept_overdue,
    sweep_department_overdue,
    sweep_handling_overdue,
)
from bot.services.cases.external import file_for_system, set_private
from bot.services.cases.figures import (
    CLOSING,
    Figures,
    OverdueCase,
    Tally,
    WeekPoint,
    breakdown_of,
    facts,
    make_figures,
    materialized,
    open_count,
    overdue_cases,
    overdue_count,
    scope_conditions,
    weekly_of,
)
from bot.services.cases.intake import (
    DraftSummary,
    FoundFile,
    SimilarCase,
    add_file,
    add_location,
    add_text,
    catalogue,
    discard_draft,
    finder_keeps,
    follow_instead,
    open_found_problem,
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
    acknowledge_emergency,
    auto_close_due,
    comment_rating,
    confirm,
    rate,
    rateable,
    reopen,
    resolution_note,
    resolve,
    return_to_queue,
    start_work,
    withdraw,
    withdrawable,
)
from bot.services.cases.oversight import (
    assign,
    assignees,
    remind,
    sweep_accept_reminders,
    sweep_climb,
    take,
)
from bot.services.cases.relay import (
    OpenTalk,
    Relayed,
    add_note,
    canned_editable,
    canned_for_case,
    canned_to_edit,
    create_canned,
    delete_canned,
    document_name,
    log_handover,
    open_conversation,
    relay_draft,
    send_canned,
    send_message,
    update_canned,
)
from bot.services.cases.texts import (
    actor_label,
    emergency_numbers,
    event_label,
    handover_line,
    kind_label,
    stars,
    status_icon,
    status_label,
    when,
)
from bot.services.cases.views import (
    CaseBrief,
    CaseView,
    attachments,
    inbox,
    my_cases,
    open_escalations,
    require_action,
    view,
)
from bot.services.cases.volunteers import (
    ERRAND_CB,
    Errand,
    errand,
    errand_done,
    my_errands,
    offer_errand,
    take_errand,
)

__all__ = [
    # common
    "Capacity", "FileRef", "case_cb", "esc_cb", "found_on_patrol",
    # emergency
    "emergency_tick", "flag_emergency",
    # escalation
    "acknowledge_escalation", "call_department", "departments", "report_back", "reportable",
    "sweep_accept_overdue", "sweep_department_overdue", "sweep_handling_overdue",
    # external (Open311)
    "file_for_system", "set_private",
    # figures (for the reports and the diary)
    "CLOSING", "Figures", "OverdueCase", "Tally", "WeekPoint", "breakdown_of", "facts", "make_figures",
    "materialized", "open_count", "overdue_cases", "overdue_count", "scope_conditions", "weekly_of",
    # behalf
    "file_for_neighbour",
    # intake
    "DraftSummary", "FoundFile", "SimilarCase", "add_file", "add_location", "add_text", "catalogue",
    "discard_draft", "finder_keeps", "follow_instead", "open_found_problem", "pending_draft", "set_authorisation",
    "set_needed_by", "similar_cases", "start_draft", "start_for_service", "submit", "summary",
    # loop
    "accept", "acknowledge_emergency", "auto_close_due", "comment_rating", "confirm", "rate", "rateable", "reopen",
    "resolution_note", "resolve", "return_to_queue", "start_work", "withdraw", "withdrawable",
    # oversight
    "assign", "assignees", "remind", "sweep_accept_reminders", "sweep_climb", "take",
    # relay
    "OpenTalk", "Relayed", "add_note", "open_conversation", "relay_draft", "canned_editable", "canned_for_case", "canned_to_edit", "create_canned",
    "delete_canned", "document_name", "log_handover", "send_canned", "send_message", "update_canned",
    # texts (words the handlers show too)
    "actor_label", "emergency_numbers", "event_label", "handover_line", "kind_label", "stars", "status_icon",
    "status_label", "when",
    # volunteers
    "ERRAND_CB", "Errand", "errand", "errand_done", "my_errands", "offer_errand", "take_errand",
    # views
    "CaseBrief", "CaseView", "attachments", "inbox", "my_cases", "open_escalations", "require_action", "view",
]
