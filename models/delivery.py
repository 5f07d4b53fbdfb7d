"""The delivery engine's own tables: staff broadcasts and their acknowledgements,
recurring-job runs, and the rate limiter state shared by several bot processes.

The outbox itself is in :mod:`models.outbox`.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, DefaultNow, IdBase, RefreshedNow, UserCascade, UserSetNull

__all__ = ["Broadcast", "BroadcastAck", "BroadcastAudience", "BroadcastScope",
           "BroadcastStatus", "DeliveryState", "DeploymentState", "JobRun",
           "JobRunStatus"]


class BroadcastScope(enum.StrEnum):
    district = "district"
    community = "community"
    grid = "grid"
    building = "building"


class BroadcastAudience(enum.StrEnum):
    residents = "residents"
    workers = "workers"  # grid workers and grid heads of the grids in scope
    both = "both"


class BroadcastStatus(enum.StrEnum):
    active = "active"  # queued: scheduled for later or being sent now
    paused = "paused"  # its pending rows are not claimed until resumed
    cancelled = "cancelled"  # its pending rows were cancelled
    done = "done"  # nothing left to send; the report went out


class Broadcast(IdBase):
    """A staff notice to everyone of an audience inside a scope.

    Its recipients are fixed when it is confirmed: one outbox row each
    (``outbox.broadcast_id``), due at ``scheduled_at`` or at once.
    """

    __tablename__ = "broadcasts"
    __table_args__ = (Index("ix_broadcasts_status_followup_at", "status", "followup_at"),)

    created_by_user_id: Mapped[UserSetNull] = mapped_column(index=True)
    scope_type: Mapped[BroadcastScope]
    scope_id: Mapped[int] = mapped_column(BigInteger)
    audience: Mapped[BroadcastAudience]
    text: Mapped[str] = mapped_column(String(4096), default="")  # HTML, the composer's formatting kept
    photo: Mapped[str | None] = mapped_column(String(256))  # Telegram file ids
    document: Mapped[str | None] = mapped_column(String(256))
    ack_requested: Mapped[bool] = mapped_column(default=False)
    status: Mapped[BroadcastStatus] = mapped_column(default=BroadcastStatus.active)
    scheduled_at: Mapped[datetime | None]
    total: Mapped[int] = mapped_column(default=0)
    locale: Mapped[str] = mapped_column(String(8), default="zh-Hans")  # the composer's, for progress and report
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_text: Mapped[str | None] = mapped_column(String(4096))  # last shown, to skip identical edits
    # When residents who have not pressed "I have read it" are listed to their grid workers.
    followup_at: Mapped[datetime | None]
    followup_sent_at: Mapped[datetime | None]
    created_at: Mapped[DefaultNow]
    started_at: Mapped[datetime | None]  # first message sent
    finished_at: Mapped[datetime | None]


class BroadcastAck(IdBase):
    """A recipient pressed "I have read it"."""

    __tablename__ = "broadcast_acks"
    __table_args__ = (UniqueConstraint("broadcast_id", "user_id"),)

    broadcast_id: Mapped[int] = mapped_column(ForeignKey("broadcasts.id", ondelete="CASCADE"))
    user_id: Mapped[UserCascade] = mapped_column(index=True)
    acked_at: Mapped[DefaultNow]


class JobRunStatus(enum.StrEnum):
    running = "running"
    done = "done"
    failed = "failed"
    skipped = "skipped"  # the first due time seen for a new job: a baseline, not run


class JobRun(IdBase):
    """One run of a recurring job for one due time; ``(name, due_at)`` is unique,
    so across all processes only one takes it."""

    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("name", "due_at"),)

    name: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime]
    status: Mapped[JobRunStatus]
    owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[DefaultNow]
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(String(2000))


class DeliveryState(Base):
    """The global send budget shared by every sender process (PostgreSQL).

    ``tat`` is the theoretical arrival time of the next send (epoch seconds,
    GCRA); ``paused_until`` is set by a 429 so that every process waits.
    """

    __tablename__ = "delivery_state"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    tat: Mapped[float] = mapped_column(default=0.0)
    paused_until: Mapped[float] = mapped_column(default=0.0)
    updated_at: Mapped[RefreshedNow]


class DeploymentState(Base):
    """Facts the processes of one deployment agree on, one row each: ``webhook`` holds a
    digest of the webhook last set (URL, secret, update types), so that of several
    processes starting together only one calls ``setWebhook``, and only when it changed."""

    __tablename__ = "deployment_state"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(256), default="")
    updated_at: Mapped[RefreshedNow]
