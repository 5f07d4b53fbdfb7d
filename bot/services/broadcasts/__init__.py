"""Staff broadcasts (notices): who may address whom, the exact recipients,
queueing, pause / resume / cancel, progress, "I have read it" and the
follow-up lists (docs/delivery.md).

    notices   the service: scopes (bot.services.access), recipients, control, progress, acknowledgements
    jobs      the 24-hour follow-up lists of unconfirmed notices (registered by bot.jobs.load_jobs)

This module is its public face: handlers, the delivery engine's progress
messages and the benchmarks use the names below.
"""

from __future__ import annotations

from bot.services.broadcasts.notices import (
    Preview,
    Progress,
    ScopeNode,
    ScopeRef,
    acknowledge,
    audience_filter,
    cancel,
    check_scope,
    create_broadcast,
    finish_if_drained,
    parse_schedule,
    pause,
    preview,
    progress,
    require_broadcaster,
    resume,
    root_refs,
    scope_node,
    set_progress_message,
    validate_content,
    validate_schedule,
)

__all__ = [
    "Preview",
    "Progress",
    "ScopeNode",
    "ScopeRef",
    "acknowledge",
    "audience_filter",
    "cancel",
    "check_scope",
    "create_broadcast",
    "finish_if_drained",
    "parse_schedule",
    "pause",
    "preview",
    "progress",
    "require_broadcaster",
    "resume",
    "root_refs",
    "scope_node",
    "set_progress_message",
    "validate_content",
    "validate_schedule",
]
