"""People: users (residents, workers, staff...), their scoped roles and invites."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, DefaultNow, IdBase, RefreshedNow, UserCascade, UserSetNull

__all__ = ["ROLE_SCOPE", "UNIT_FACTOR", "FSMRecord", "InboundStatus", "InboundUpdate",
           "Invite", "OutgoingFile", "OutgoingRequest", "Role", "RoleGrant", "ScopeType", "User"]


class Role(enum.StrEnum):
    worker = "worker"  # 网格员, scoped to a grid
    grid_head = "grid_head"  # 网格长, scoped to a grid
    staff = "staff"  # community staff / secretary, scoped to a community
    department = "department"  # officer of a department, scoped to it
    admin = "admin"  # district administrator, scoped to a district
    building_head = "building_head"  # 楼栋长, scoped to a building
    unit_head = "unit_head"  # 单元长, scoped to one unit (entrance) of a building
    volunteer = "volunteer"  # 志愿者, scoped to a community


class ScopeType(enum.StrEnum):
    grid = "grid"
    community = "community"
    department = "department"
    district = "district"
    building = "building"
    # A unit (单元) of a building has no row of its own: its scope id is
    # ``building id * UNIT_FACTOR + unit number`` (units 1..999, as buildings.units
    # allows), so a grant names it with one integer and a building's unit heads
    # are found with ``scope_id // UNIT_FACTOR`` (bot.services.access).
    unit = "unit"


UNIT_FACTOR = 1000

ROLE_SCOPE: dict[Role, ScopeType] = {
    Role.worker: ScopeType.grid,
    Role.grid_head: ScopeType.grid,
    Role.staff: ScopeType.community,
    Role.department: ScopeType.department,
    Role.admin: ScopeType.district,
    Role.building_head: ScopeType.building,
    Role.unit_head: ScopeType.unit,
    Role.volunteer: ScopeType.community,
}


class User(IdBase):
    __tablename__ = "users"
    # The few who blocked the bot, for the outbox's claim (a partial index).
    __table_args__ = (Index("ix_users_unreachable", "id", postgresql_where=text("unreachable"),
                            sqlite_where=text("unreachable")),)
    # Null for people registered on someone's behalf without Telegram.
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str] = mapped_column(String(128), default="")
    last_name: Mapped[str | None] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(8))
    phone: Mapped[str | None] = mapped_column(String(32))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"), index=True)
    # The unit (单元, entrance) of the building, when known: from an organisation
    # file, or typed by the unit head who registers a neighbour without Telegram.
    unit: Mapped[int | None]
    registered_at: Mapped[datetime | None]
    # The home building is a claim until a worker of its grid confirms it (or an
    # organisation file states it); neighbour-revealing features wait for it.
    home_confirmed_at: Mapped[datetime | None]
    home_confirmed_by_id: Mapped[UserSetNull]
    # When the person agreed to the privacy notice (docs/privacy.md); None: not
    # (yet) agreed, so nothing about them but this row is kept.
    privacy_consent_at: Mapped[datetime | None]
    # Set when Telegram answers 403 (the user blocked the bot).
    unreachable: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[DefaultNow]
    roles: Mapped[list[RoleGrant]] = relationship(back_populates="user", lazy="selectin", cascade="all, delete-orphan")

    @property
    def is_registered(self) -> bool:
        return self.registered_at is not None


class RoleGrant(IdBase):
    __tablename__ = "role_grants"
    __table_args__ = (UniqueConstraint("user_id", "role", "scope_type", "scope_id"),)
    user_id: Mapped[UserCascade] = mapped_column(index=True)
    role: Mapped[Role]
    scope_type: Mapped[ScopeType]
    scope_id: Mapped[int] = mapped_column(BigInteger)
    granted_at: Mapped[DefaultNow]
    invite_id: Mapped[int | None] = mapped_column(ForeignKey("invites.id", ondelete="SET NULL"))
    user: Mapped[User] = relationship(back_populates="roles")


class Invite(IdBase):
    """A one-time deep-link invite that grants a role and scope."""

    __tablename__ = "invites"
    payload: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role]
    scope_type: Mapped[ScopeType]
    scope_id: Mapped[int] = mapped_column(BigInteger)
    scope_code: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[DefaultNow]
    created_by_user_id: Mapped[UserSetNull]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_user_id: Mapped[UserSetNull]


class InboundStatus(enum.StrEnum):
    pending = "pending"
    done = "done"
    failed = "failed"


class InboundUpdate(IdBase):
    """Every update Telegram gave us, stored before it is confirmed to Telegram.

    A row is ``pending`` until the transaction carrying the handler's effects
    marks it ``done``.  Unfinished rows are handled again on start.
    """

    __tablename__ = "inbound_updates"
    __table_args__ = (
        # Telegram restarts update ids at a random value after a week without
        # updates: an id alone does not tell a new update from a redelivery, the
        # same id with the same content does (payload_hash; NULL on rows stored
        # before it existed).
        UniqueConstraint("bot_id", "update_id", "payload_hash"),
        Index("ix_inbound_updates_status_id", "status", "id"),
        Index("ix_inbound_updates_bot_id_chat_id_update_id", "bot_id", "chat_id", "update_id"),
    )
    bot_id: Mapped[int] = mapped_column(BigInteger)
    update_id: Mapped[int] = mapped_column(BigInteger)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str] = mapped_column(String)  # the raw JSON as received
    payload_hash: Mapped[str | None] = mapped_column(String(32))  # of the canonical JSON (bot.inbound)
    status: Mapped[InboundStatus] = mapped_column(default=InboundStatus.pending)
    attempts: Mapped[int] = mapped_column(default=0)
    received_at: Mapped[DefaultNow]
    processed_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(2000))
    # The process handling it, and until when (renewed while it lives; another
    # process may take the update over once the lease has run out).
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[datetime | None]


class FSMRecord(Base):
    """aiogram FSM state and data, for deployments without Redis."""

    __tablename__ = "fsm_records"
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    state: Mapped[str | None] = mapped_column(String(200))
    data: Mapped[str] = mapped_column(String, default="{}")
    updated_at: Mapped[RefreshedNow]


class OutgoingRequest(Base):
    """A request to Telegram an update's handler made, not yet confirmed sent.

    Written in the transaction that marks the update done (``bot/answers.py``),
    deleted once Telegram answered it (or refused it for good); a row left
    behind by a crash is sent at the next start.  So the table only ever holds
    what is in flight.
    """

    __tablename__ = "outgoing_requests"
    inbound_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)  # order within the update
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(64))  # aiogram's class name, e.g. SendMessage
    body: Mapped[str] = mapped_column(String)  # the JSON body exactly as it is sent
    owner: Mapped[str | None] = mapped_column(String(64))  # the process that sends it (inbound_updates.owner)
    lease_until: Mapped[datetime | None]
    created_at: Mapped[DefaultNow]

class OutgoingFile(Base):
    """A file an :class:`OutgoingRequest` uploads: its bytes, kept until the request
    is confirmed sent (the row goes with its request: ``ON DELETE CASCADE``).

    ``name`` is the multipart field the request's body points to with
    ``attach://<name>``; a request may carry several files (a photo and its
    thumbnail, an album).  At most Telegram's upload limit per request
    (``bot/answers.py``)."""

    __tablename__ = "outgoing_files"
    __table_args__ = (
        ForeignKeyConstraint(["inbound_id", "seq"], ["outgoing_requests.inbound_id", "outgoing_requests.seq"],
                             ondelete="CASCADE"),
    )
    inbound_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    filename: Mapped[str | None] = mapped_column(String(255))
    data: Mapped[bytes] = mapped_column(LargeBinary)
