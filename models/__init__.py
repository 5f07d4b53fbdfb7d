"""ORM models, database setup and queries.

Importing this package registers every table on :data:`Base.metadata`.
"""

from models.base import Base, UTCDateTime, utcnow
from models.org import (
    Building,
    Community,
    Department,
    District,
    Grid,
    GridKind,
    ServiceItem,
    ServiceKind,
    Station,
    StationService,
    i18n_name,
)
from models.users import (
    ROLE_SCOPE,
    UNIT_FACTOR,
    FSMRecord,
    InboundStatus,
    InboundUpdate,
    Invite,
    OutgoingFile,
    OutgoingRequest,
    Role,
    RoleGrant,
    ScopeType,
    User,
)

__all__ = [
    "Base", "UTCDateTime", "utcnow",
    "Building", "Community", "Department", "District", "Grid", "GridKind", "ServiceItem",
    "ServiceKind", "Station", "StationService", "i18n_name",
    "ROLE_SCOPE", "FSMRecord", "InboundStatus", "InboundUpdate", "Invite", "OutgoingFile", "OutgoingRequest", "Role",
    "RoleGrant", "ScopeType", "UNIT_FACTOR", "User",
]

from models.outbox import OutboxKind, OutboxMessage, OutboxStatus  # noqa: E402

__all__ += ["OutboxKind", "OutboxMessage", "OutboxStatus"]

from models.delivery import (  # noqa: E402
    Broadcast,
    BroadcastAck,
    BroadcastAudience,
    BroadcastScope,
    BroadcastStatus,
    DeliveryState,
    DeploymentState,
    JobRun,
    JobRunStatus,
)

__all__ += ["Broadcast", "BroadcastAck", "BroadcastAudience", "BroadcastScope", "BroadcastStatus",
            "DeliveryState", "DeploymentState", "JobRun", "JobRunStatus"]

from models.cases import (  # noqa: E402
    HANDLING_STATUSES,
    OPEN_STATUSES,
    ActorRole,
    AttachmentKind,
    CannedReply,
    Case,
    CaseAttachment,
    CaseCounter,
    CaseEscalation,
    CaseEvent,
    CaseEventType,
    CaseFollower,
    CaseHandover,
    CaseKind,
    CaseRating,
    CaseStatus,
    CloseReason,
    HandoverDirection,
    Holiday,
    HolidayKind,
)

__all__ += ["HANDLING_STATUSES", "OPEN_STATUSES", "ActorRole", "AttachmentKind", "CannedReply", "Case",
            "CaseAttachment", "CaseCounter", "CaseEscalation", "CaseEvent", "CaseEventType", "CaseFollower",
            "CaseHandover", "CaseKind", "CaseRating", "CaseStatus", "CloseReason", "HandoverDirection",
            "Holiday", "HolidayKind"]

from models.diary import (  # noqa: E402
    CareTag,
    DiaryAttachment,
    DiaryEntry,
    DiaryEntryRevision,
    DiaryMediaKind,
    EntryKind,
    Household,
    HouseholdTag,
    OpinionCategory,
    Patrol,
    PatrolEnd,
    RevisionAction,
)

__all__ += ["CareTag", "DiaryAttachment", "DiaryEntry", "DiaryEntryRevision", "DiaryMediaKind", "EntryKind",
            "Household", "HouseholdTag", "OpinionCategory", "Patrol", "PatrolEnd", "RevisionAction"]

from models.appointments import (  # noqa: E402
    Appointment,
    AppointmentClosure,
    AppointmentPlan,
    AppointmentSlot,
    AppointmentStatus,
    CancelReason,
    FollowUp,
)

__all__ += ["Appointment", "AppointmentClosure", "AppointmentPlan", "AppointmentSlot", "AppointmentStatus",
            "CancelReason", "FollowUp"]

import models.reports  # noqa: E402,F401  (the staff reports' indexes on the diary's table)
from models.audit import AccessAction, AccessLog  # noqa: E402

__all__ += ["AccessAction", "AccessLog"]

from models.open311 import Open311Client, Open311Request  # noqa: E402

__all__ += ["Open311Client", "Open311Request"]
from models.consultations import (  # noqa: E402
    Consultation,
    ConsultationAnswer,
    ConsultationRecipient,
    ConsultationStatus,
)
from models.family import FamilyLink, FamilyLinkStatus  # noqa: E402

__all__ += ["Consultation", "ConsultationAnswer", "ConsultationRecipient", "ConsultationStatus", "FamilyLink",
            "FamilyLinkStatus"]
from models.organisation import (  # noqa: E402
    AllianceUnit,
    ErrandOffer,
    EventAudience,
    EventSignup,
    EventStatus,
    PartyMember,
    ServiceEvent,
    SignupStatus,
)

__all__ += ["AllianceUnit", "ErrandOffer", "EventAudience", "EventSignup", "EventStatus", "PartyMember",
            "ServiceEvent", "SignupStatus"]
