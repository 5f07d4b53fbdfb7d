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
    FSMRecord,
    InboundStatus,
    InboundUpdate,
    Invite,
    Role,
    RoleGrant,
    ScopeType,
    User,
)

__all__ = [
    "Base", "UTCDateTime", "utcnow",
    "Building", "Community", "Department", "District", "Grid", "GridKind", "ServiceItem",
    "ServiceKind", "Station", "StationService", "i18n_name",
    "ROLE_SCOPE", "FSMRecord", "InboundStatus", "InboundUpdate", "Invite", "Role", "RoleGrant",
    "ScopeType", "User",
]

from models.outbox import OutboxKind, OutboxMessage, OutboxStatus  # noqa: E402

__all__ += ["OutboxKind", "OutboxMessage", "OutboxStatus"]
