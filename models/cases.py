"""Cases: every matter a resident brings (proxy errands, problem reports, free
requests) and its closed loop, plus the working calendar's holidays.

A case's story is its events (``case_events``): who did what, when, with a
note.  The figures the district reports (completion, on-time completion,
rework, satisfaction, time to accept / close, emergency time to acknowledge)
are computed from those events; the columns on ``cases`` are the current
state and its deadlines, kept for fast sweeps and lists.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import (
    Base,
    CaseCascade,
    CommunityRestrict,
    DefaultNow,
    GridRestrict,
    IdBase,
    JSONType,
    RefreshedNow,
    TimestampMixin,
    UserCascade,
    UserRestrict,
    UserSetNull,
    enum_column,
)
from models.media import MediaKind

__all__ = ["HANDLING_STATUSES", "OPEN_STATUSES", "ActorRole", "AttachmentKind",
           "CannedReply", "Case", "CaseAttachment", "CaseCounter", "CaseEscalation",
           "CaseEvent", "CaseEventType", "CaseFollower", "CaseHandover", "CaseKind",
           "CaseRating", "CaseStatus", "CloseReason", "HandoverDirection", "Holiday",
           "HolidayKind"]


class CaseKind(enum.StrEnum):
    proxy = "proxy"  # 暖心代办: an errand run on the resident's behalf
    report = "report"  # a problem the resident reports
    request = "request"  # a free message typed at the menu (no catalogue item)


class CaseStatus(enum.StrEnum):
    draft = "draft"  # being written by the resident; nobody else sees it
    new = "new"  # sent, waiting for a worker to accept it
    accepted = "accepted"
    in_progress = "in_progress"
    resolved = "resolved"  # the worker says it is done; waiting for the resident
    reopened = "reopened"  # the resident said "not solved" (返工)
    closed = "closed"


OPEN_STATUSES = (CaseStatus.new, CaseStatus.accepted, CaseStatus.in_progress, CaseStatus.resolved,
                 CaseStatus.reopened)
# Statuses in which the owner is working on it (resolve, relay, escalate).
HANDLING_STATUSES = (CaseStatus.accepted, CaseStatus.in_progress, CaseStatus.reopened)


class CloseReason(enum.StrEnum):
    confirmed = "confirmed"  # the resident said "solved"
    auto = "auto"  # resolved and unanswered for the auto-close period
    withdrawn = "withdrawn"  # the resident withdrew it before it was resolved


class ActorRole(enum.StrEnum):
    resident = "resident"
    worker = "worker"
    grid_head = "grid_head"
    staff = "staff"
    department = "department"
    admin = "admin"
    building_head = "building_head"  # filed for a neighbour without Telegram
    unit_head = "unit_head"
    volunteer = "volunteer"  # took a proxy errand a worker offered
    system = "system"


class CaseEventType(enum.StrEnum):
    submitted = "submitted"  # data: service, emergency, authorisation, needed_by, accept_due, resolve_due
    follower_joined = "follower_joined"  # another resident follows it instead of a duplicate
    accepted = "accepted"
    started = "started"
    message = "message"  # relayed between resident and owner; data: from, attachment ids
    note = "note"  # internal note, never shown to residents
    handover = "handover"  # a document changed hands; data: handover id, direction
    resolved = "resolved"  # data: due, on_time
    confirmed = "confirmed"  # the resident said solved; data: sign_off (proxy)
    reopened = "reopened"  # rework (返工)
    auto_closed = "auto_closed"
    withdrawn = "withdrawn"
    rated = "rated"  # data: score
    accept_overdue = "accept_overdue"  # unaccepted past the limit: grid heads alerted
    handling_overdue = "handling_overdue"  # unresolved past the limit: community staff alerted
    dept_called = "dept_called"  # data: escalation, department
    dept_acknowledged = "dept_acknowledged"
    dept_ack_overdue = "dept_ack_overdue"
    dept_reported = "dept_reported"
    emergency_flagged = "emergency_flagged"
    emergency_alerted = "emergency_alerted"  # data: level, recipients
    emergency_acknowledged = "emergency_acknowledged"
    volunteer_offered = "volunteer_offered"  # the owner offered a proxy errand to volunteers (internal)
    volunteer_helping = "volunteer_helping"  # a volunteer took it; the resident sees no identity
    volunteer_done = "volunteer_done"  # the volunteer says their part is done (internal); the owner closes
    returned = "returned"  # back to the grid's queue: its owner's role ended; data: owner, reason
    accept_reminder = "accept_reminder"  # the grid's workers reminded before the acceptance limit
    escalated = "escalated"  # still nobody acted: the next level of the chain alerted; data: level, stage
    assigned = "assigned"  # a grid head or staff gave it to a worker (or took it); data: owner, before
    reminded = "reminded"  # a grid head or staff reminded the owner (or the grid's workers)


AttachmentKind = MediaKind  # what a case attachment is


class HandoverDirection(enum.StrEnum):
    to_worker = "to_worker"  # the resident handed a document to the worker
    to_resident = "to_resident"  # the worker handed one (back) to the resident


class HolidayKind(enum.StrEnum):
    holiday = "holiday"  # a day off, even if it is a weekday
    workday = "workday"  # 调休: a make-up working day, even on a weekend


class Case(IdBase):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_accept_due_at", "status", "accept_due_at"),
        Index("ix_cases_status_resolve_due_at", "status", "resolve_due_at"),
        Index("ix_cases_status_resolved_at", "status", "resolved_at"),
        Index("ix_cases_grid_id_status", "grid_id", "status"),
        Index("ix_cases_community_id_status", "community_id", "status"),
        Index("ix_cases_resident_id_status", "resident_id", "status"),
        Index("ix_cases_building_id_service_id_submitted_at", "building_id", "service_id", "submitted_at"),
        Index("ix_cases_emergency_next_at", "emergency_next_at"),
        # Open311 (bot/services/open311): the public list by date sent and by last change.
        Index("ix_cases_submitted_at_id", "submitted_at", "id"),
        Index("ix_cases_updated_at_id", "updated_at", "id"),
    )

    # DC-2026-000123: district code, year, a per-(district, year) sequence.  Null while a draft.
    number: Mapped[str | None] = mapped_column(String(40), unique=True)
    kind: Mapped[CaseKind]
    status: Mapped[CaseStatus] = mapped_column(default=CaseStatus.draft)
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service_items.id", ondelete="SET NULL"))
    resident_id: Mapped[UserRestrict]
    community_id: Mapped[CommunityRestrict]
    grid_id: Mapped[GridRestrict]
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))
    description: Mapped[str] = mapped_column(Text, default="")
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # Proxy errands: by when the resident needs it (None: as soon as possible)
    # and what they authorise the worker to do on their behalf.
    needed_by: Mapped[date | None]
    authorisation: Mapped[str | None] = mapped_column(Text)

    owner_id: Mapped[UserSetNull] = mapped_column(index=True)
    created_at: Mapped[DefaultNow]
    submitted_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[CloseReason | None]
    resolution: Mapped[str | None] = mapped_column(Text)
    reopen_count: Mapped[int] = mapped_column(default=0)

    # Deadlines (working hours from the catalogue item) and when each was escalated.
    accept_due_at: Mapped[datetime | None]
    resolve_due_at: Mapped[datetime | None]
    accept_escalated_at: Mapped[datetime | None]
    resolve_escalated_at: Mapped[datetime | None]
    # Escalation with handles (issue 20): the grid's workers are reminded once before the
    # acceptance limit; past a limit the alert climbs one level of the chain (grid head,
    # community staff, district) each CASE_ESCALATION_STEP_HOURS while nobody acts.
    accept_reminded_at: Mapped[datetime | None]
    escalation_level: Mapped[int] = mapped_column(default=0, server_default="0")
    escalation_next_at: Mapped[datetime | None] = mapped_column(index=True)

    # Emergencies: alerted up the chain every few minutes until acknowledged.
    emergency: Mapped[bool] = mapped_column(default=False)
    emergency_at: Mapped[datetime | None]
    emergency_level: Mapped[int] = mapped_column(default=0)
    emergency_next_at: Mapped[datetime | None]
    emergency_ack_at: Mapped[datetime | None]
    emergency_ack_by_id: Mapped[UserSetNull]
    # A case the resident keeps private: never published (Open311, docs/open311.md).
    private: Mapped[bool] = mapped_column(default=False, server_default=false())
    updated_at: Mapped[RefreshedNow]


class CaseEvent(IdBase):
    """One step of a case's timeline: who, when, what, with a note."""

    __tablename__ = "case_events"
    __table_args__ = (
        Index("ix_case_events_case_id_id", "case_id", "id"),
        Index("ix_case_events_type_at", "type", "at"),
    )

    case_id: Mapped[CaseCascade]
    at: Mapped[DefaultNow]
    actor_id: Mapped[UserSetNull]
    actor_role: Mapped[ActorRole]
    type: Mapped[CaseEventType] = mapped_column(enum_column(CaseEventType, 32))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # Shown on the resident's timeline (internal notes and alerts are not).
    public: Mapped[bool] = mapped_column(default=True)


class CaseAttachment(IdBase):
    """A photo, voice note, document or location someone sent about a case.

    Telegram keeps the file; we keep its ``file_id`` (to send it again) and
    ``file_unique_id`` (stable across bots, to recognise it).
    """

    __tablename__ = "case_attachments"
    __table_args__ = (Index("ix_case_attachments_case_id_id", "case_id", "id"),)

    case_id: Mapped[CaseCascade]
    event_id: Mapped[int | None] = mapped_column(ForeignKey("case_events.id", ondelete="SET NULL"))
    uploaded_by_id: Mapped[UserSetNull]
    kind: Mapped[AttachmentKind]
    file_id: Mapped[str | None] = mapped_column(String(256))
    file_unique_id: Mapped[str | None] = mapped_column(String(128))
    file_name: Mapped[str | None] = mapped_column(String(256))
    mime_type: Mapped[str | None] = mapped_column(String(128))
    caption: Mapped[str | None] = mapped_column(Text)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # intake, message, note, resolution, handover, report (a department's)
    phase: Mapped[str] = mapped_column(String(16), default="intake")
    # Internal attachments (on notes) are never shown to residents.
    public: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[DefaultNow]


class CaseHandover(IdBase):
    """A document changing hands during a proxy errand."""

    __tablename__ = "case_handovers"

    case_id: Mapped[CaseCascade] = mapped_column(index=True)
    direction: Mapped[HandoverDirection]
    document: Mapped[str] = mapped_column(String(200))
    photo_file_id: Mapped[str | None] = mapped_column(String(256))
    photo_unique_id: Mapped[str | None] = mapped_column(String(128))
    recorded_by_id: Mapped[UserSetNull]
    at: Mapped[DefaultNow]


class CaseRating(IdBase):
    __tablename__ = "case_ratings"
    __table_args__ = (CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),)

    case_id: Mapped[CaseCascade] = mapped_column(unique=True)
    resident_id: Mapped[UserSetNull]
    score: Mapped[int]
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[DefaultNow]


class CaseEscalation(IdBase):
    """吹哨报到: a worker calls a department in; it acknowledges, then reports back."""

    __tablename__ = "case_escalations"
    __table_args__ = (
        Index("ix_case_escalations_department_id_reported_at", "department_id", "reported_at"),
        Index("ix_case_escalations_ack_due_at", "ack_due_at"),
    )

    case_id: Mapped[CaseCascade] = mapped_column(index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"))
    requested_by_id: Mapped[UserSetNull]
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[DefaultNow]
    ack_due_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[UserSetNull]
    overdue_alerted_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    reported_by_id: Mapped[UserSetNull]
    report: Mapped[str | None] = mapped_column(Text)


class CaseFollower(IdBase):
    """A resident who follows someone else's case instead of filing a duplicate."""

    __tablename__ = "case_followers"
    __table_args__ = (UniqueConstraint("case_id", "user_id"),)

    case_id: Mapped[CaseCascade]
    user_id: Mapped[UserCascade] = mapped_column(index=True)
    created_at: Mapped[DefaultNow]


class CaseCounter(Base):
    """The last case number given out per district and year."""

    __tablename__ = "case_counters"

    district_code: Mapped[str] = mapped_column(String(32), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(BigInteger, default=0)


class CannedReply(TimestampMixin, IdBase):
    """A reply template workers can send; staff edit them.  ``community_id``
    None: for the whole deployment."""

    __tablename__ = "canned_replies"

    community_id: Mapped[int | None] = mapped_column(ForeignKey("communities.id", ondelete="CASCADE"),
                                                     index=True)
    title: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[UserSetNull]


class Holiday(IdBase):
    """The working calendar's exceptions: public holidays and make-up workdays (调休)."""

    __tablename__ = "holidays"

    day: Mapped[date] = mapped_column(unique=True)
    kind: Mapped[HolidayKind]
    name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[DefaultNow]
