"""The patrol diary (民情日志): patrols, entries and their history, and the
household ledger with its visit frequencies.

* A **patrol** is one walk of a worker through a grid, from "Start patrol" to
  "End patrol" (or the automatic end after ``DIARY_PATROL_MAX_HOURS``).
* An **entry** is one thing logged: a household *visit*, a public-opinion
  item (*opinion*, 社情民意), a *problem* found (which can become a case) or a
  loose *note* (whatever the worker sent during a patrol without pressing
  anything; it can be tagged as one of the others later).  The row holds the
  entry as it is now; every change (created, added to, edited, tagged,
  deleted, linked to a case) is also written to ``diary_entry_revisions`` with
  a full snapshot, so nothing is ever overwritten.  Deleting is a mark.
* A **household** of the ledger sits in a building; its **tags** (elderly
  living alone, disabled...) each carry a visit interval.  ``visit_due_on``
  (local date) is kept up to date from the last visit and the shortest
  interval, so "who is due" is an indexed query.
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import (
    DefaultNow,
    GridRestrict,
    IdBase,
    JSONType,
    UserRestrict,
    UserSetNull,
    enum_column,
)
from models.media import MediaKind

__all__ = ["CareTag", "DiaryAttachment", "DiaryEntry", "DiaryEntryRevision",
           "DiaryMediaKind", "EntryKind", "Household", "HouseholdTag",
           "OpinionCategory", "Patrol", "PatrolEnd", "RevisionAction"]


class EntryKind(enum.StrEnum):
    visit = "visit"  # 走访: a household visited
    opinion = "opinion"  # 社情民意: what a resident said
    problem = "problem"  # a problem found on the way (may become a case)
    note = "note"  # sent during a patrol without a kind; taggable later


class CareTag(enum.StrEnum):
    """Household tags and visit categories (one list, so a visit's category
    defaults to the tag of the household visited)."""

    elderly_alone = "elderly_alone"  # 独居老人
    disabled = "disabled"  # 残疾人
    member_hardship = "member_hardship"  # 困难党员
    family_difficulty = "family_difficulty"  # 困难家庭
    other = "other"  # 其他 / 重点关注


class OpinionCategory(enum.StrEnum):
    environment = "environment"  # 环境卫生
    property = "property"  # 物业 / 房屋
    safety = "safety"  # 治安安全
    welfare = "welfare"  # 民生保障 (pensions, medical insurance, allowances)
    dispute = "dispute"  # 邻里纠纷
    suggestion = "suggestion"  # 意见建议
    other = "other"


DiaryMediaKind = MediaKind  # what a diary attachment is


class RevisionAction(enum.StrEnum):
    created = "created"
    added = "added"  # text or a file added while the entry was being written
    edited = "edited"  # text, resident name or category changed
    tagged = "tagged"  # a note given a kind (or a kind changed)
    deleted = "deleted"
    case_opened = "case_opened"  # a problem turned into a case


class PatrolEnd(enum.StrEnum):
    manual = "manual"  # "End patrol"
    auto = "auto"  # open longer than DIARY_PATROL_MAX_HOURS


class Patrol(IdBase):
    __tablename__ = "patrols"
    __table_args__ = (
        Index("ix_patrols_worker_id_started_at", "worker_id", "started_at"),
        Index("ix_patrols_grid_id_started_at", "grid_id", "started_at"),
        # At most one open patrol per worker, whatever the number of processes.
        Index("uq_patrols_open_worker", "worker_id", unique=True,
              sqlite_where=text("ended_at IS NULL"), postgresql_where=text("ended_at IS NULL")),
    )

    worker_id: Mapped[UserRestrict]
    grid_id: Mapped[GridRestrict]
    started_at: Mapped[DefaultNow]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[PatrolEnd | None]
    # Where the worker was: the first location they shared, the latest one
    # (live location keeps moving it) and until when the live location runs.
    start_latitude: Mapped[float | None]
    start_longitude: Mapped[float | None]
    last_latitude: Mapped[float | None]
    last_longitude: Mapped[float | None]
    last_location_at: Mapped[datetime | None]
    live_until: Mapped[datetime | None]
    # The building of the last visit: offered first for the next one.
    current_building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))


class DiaryEntry(IdBase):
    __tablename__ = "diary_entries"
    # By worker or grid and day: the covering indexes in models/reports.py.
    __table_args__ = (
        Index("ix_diary_entries_patrol_id_id", "patrol_id", "id"),
        Index("ix_diary_entries_household_id", "household_id"),
        Index("ix_diary_entries_case_id", "case_id"),
    )

    worker_id: Mapped[UserRestrict]
    grid_id: Mapped[GridRestrict]
    patrol_id: Mapped[int | None] = mapped_column(ForeignKey("patrols.id", ondelete="SET NULL"))
    kind: Mapped[EntryKind]
    # visit: a CareTag; opinion: an OpinionCategory; otherwise None.
    category: Mapped[str | None] = mapped_column(String(32))
    building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id", ondelete="SET NULL"))
    unit: Mapped[str | None] = mapped_column(String(32))  # unit / room when no ledger household
    text: Mapped[str] = mapped_column(Text, default="")
    resident_name: Mapped[str | None] = mapped_column(String(64))  # opinions: None = anonymous
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # problem -> case (the case's "submitted" event names this entry back).  No
    # database-level foreign key: ``cases`` is created on another migration
    # branch (0004), which may run after this one; cases are never deleted.
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    # The Telegram message a loose note came from (order and provenance).
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[DefaultNow]
    day: Mapped[date]   # local (DISPLAY_TZ) date of occurred_at
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[DefaultNow]
    updated_at: Mapped[DefaultNow]
    deleted_at: Mapped[datetime | None]


class DiaryAttachment(IdBase):
    """A photo, voice note, video, document or location of an entry (Telegram
    keeps the file; we keep its ids)."""

    __tablename__ = "diary_attachments"
    __table_args__ = (Index("ix_diary_attachments_entry_id_id", "entry_id", "id"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("diary_entries.id", ondelete="CASCADE"))
    kind: Mapped[DiaryMediaKind]
    file_id: Mapped[str | None] = mapped_column(String(256))
    file_unique_id: Mapped[str | None] = mapped_column(String(128))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    created_at: Mapped[DefaultNow]


class DiaryEntryRevision(IdBase):
    """One change of an entry, with the whole entry as it was after it."""

    __tablename__ = "diary_entry_revisions"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)

    entry_id: Mapped[int] = mapped_column(ForeignKey("diary_entries.id", ondelete="CASCADE"))
    version: Mapped[int]
    action: Mapped[RevisionAction]
    at: Mapped[DefaultNow]
    by_id: Mapped[UserSetNull]
    # Made after the entry's day (a later correction, shown as such).
    late: Mapped[bool] = mapped_column(default=False)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)


class Household(IdBase):
    """A household of the ledger (台账), in a building of a grid."""

    __tablename__ = "households"
    __table_args__ = (
        Index("ix_households_grid_id_visit_due_on", "grid_id", "visit_due_on"),
        Index("ix_households_building_id", "building_id"),
    )

    code: Mapped[str] = mapped_column(String(32), unique=True)
    grid_id: Mapped[GridRestrict]
    building_id: Mapped[int] = mapped_column(ForeignKey("buildings.id", ondelete="RESTRICT"))
    unit: Mapped[str | None] = mapped_column(String(32))  # unit / room, e.g. "2-301"
    label: Mapped[str] = mapped_column(String(100))  # how workers know it, e.g. "王桂芝"
    active: Mapped[bool] = mapped_column(default=True)
    last_visit_at: Mapped[datetime | None]
    # Local date by which the next visit is due; None: no tag asks for visits.
    visit_due_on: Mapped[date | None]
    # The household's separate consent to its sensitive tags (PIPL art. 29),
    # as recorded by the grid head or staff who set them; None: no tag may be set.
    sensitive_consent_at: Mapped[datetime | None]
    sensitive_consent_by_id: Mapped[UserSetNull]
    # The registered resident this household is (linked by its grid head or staff), who
    # sees the household's tags in their profile and in /mydata.
    resident_id: Mapped[UserSetNull] = mapped_column(index=True)
    created_at: Mapped[DefaultNow]
    updated_at: Mapped[DefaultNow]


class HouseholdTag(IdBase):
    __tablename__ = "household_tags"
    __table_args__ = (UniqueConstraint("household_id", "tag"),)

    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    tag: Mapped[CareTag] = mapped_column(enum_column(CareTag, 24))
    interval_days: Mapped[int]   # visit at least every N days
    set_by_id: Mapped[UserSetNull]
    updated_at: Mapped[DefaultNow]
