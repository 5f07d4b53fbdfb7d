"""The district's own organisation beside its offices (issue 17): party
members and party-member central households, alliance units, the proxy
errands offered to volunteers, and service days with their sign-ups.

Building and unit heads and volunteers are role grants (``models.users``);
what they do lives in ``bot.services.org`` and ``bot.services.events``.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import (
    Base,
    CaseCascade,
    CommunityRestrict,
    DefaultNow,
    IdBase,
    JSONType,
    TimestampMixin,
    UserCascade,
    UserSetNull,
)
from models.org import LocalizedText

__all__ = ["AllianceUnit", "ErrandOffer", "EventAudience", "EventSignup", "EventStatus",
           "PartyMember", "ServiceEvent", "SignupStatus"]


class PartyMember(Base):
    """A party member (党员): their grid party branch (网格党支部, by grid), their
    building party group (楼栋党小组, by building) and whether their home is a
    party-member central household (党员中心户) that looks after the neighbours.
    Only organisation files set it (``import-org``)."""

    __tablename__ = "party_members"
    user_id: Mapped[UserCascade] = mapped_column(primary_key=True)
    branch_grid_id: Mapped[int | None] = mapped_column(ForeignKey("grids.id", ondelete="SET NULL"), index=True)
    group_building_id: Mapped[int | None] = mapped_column(ForeignKey("buildings.id", ondelete="SET NULL"),
                                                          index=True)
    central_household: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[DefaultNow]


class AllianceUnit(TimestampMixin, IdBase):
    """A unit of a community's "red alliance" (红色联盟): a local employer or
    institution whose people serve the residents, with what it offers."""

    __tablename__ = "alliance_units"
    code: Mapped[str] = mapped_column(String(32), unique=True)
    community_id: Mapped[CommunityRestrict] = mapped_column(index=True)
    names: Mapped[LocalizedText] = mapped_column(JSONType)
    contact: Mapped[str | None] = mapped_column(String(200))
    offers: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(default=True)


class ErrandOffer(IdBase):
    """A proxy errand (暖心代办) its owner offered to the community's volunteers.

    The first volunteer to press Take gets it (a conditional UPDATE on
    ``taken_by_id IS NULL``); the worker stays the case's owner and closes it.
    ``share_phone``: the owner decided the errand needs the resident's phone,
    so the volunteer who takes it sees it (and the access log records it).
    """

    __tablename__ = "errand_offers"
    case_id: Mapped[CaseCascade] = mapped_column(unique=True)
    community_id: Mapped[CommunityRestrict] = mapped_column(index=True)
    offered_by_id: Mapped[UserSetNull]
    offered_at: Mapped[DefaultNow]
    share_phone: Mapped[bool] = mapped_column(default=False)
    taken_by_id: Mapped[UserSetNull] = mapped_column(index=True)
    taken_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]


class EventAudience(enum.StrEnum):
    residents = "residents"
    volunteers = "volunteers"
    both = "both"


class EventStatus(enum.StrEnum):
    open = "open"  # announced, sign-ups taken
    held = "held"  # attendance marked
    cancelled = "cancelled"


class SignupStatus(enum.StrEnum):
    going = "going"
    waiting = "waiting"  # on the waiting list, promoted in order when a seat frees
    cancelled = "cancelled"


class ServiceEvent(IdBase):
    """A volunteer service day (志愿服务日), a free clinic, a policy talk at a station..."""

    __tablename__ = "service_events"
    __table_args__ = (Index("ix_service_events_community_id_starts_at", "community_id", "starts_at"),)
    community_id: Mapped[CommunityRestrict]
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200))
    starts_at: Mapped[datetime]
    hours: Mapped[int] = mapped_column(default=2)  # credited to each volunteer who attended
    capacity: Mapped[int]
    audience: Mapped[EventAudience]
    status: Mapped[EventStatus] = mapped_column(default=EventStatus.open)
    created_by_id: Mapped[UserSetNull]
    created_at: Mapped[DefaultNow]
    held_at: Mapped[datetime | None]
    # A counter row lock for sign-ups: every sign-up and cancel updates it first,
    # so two of them on one event queue instead of overbooking.
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class EventSignup(IdBase):
    __tablename__ = "event_signups"
    __table_args__ = (UniqueConstraint("event_id", "user_id"),
                      Index("ix_event_signups_event_id_status_id", "event_id", "status", "id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("service_events.id", ondelete="CASCADE"))
    user_id: Mapped[UserCascade] = mapped_column(index=True)
    as_volunteer: Mapped[bool] = mapped_column(default=False)
    status: Mapped[SignupStatus]
    created_at: Mapped[DefaultNow]
    updated_at: Mapped[DefaultNow]
    attended: Mapped[bool | None]   # None until staff mark it
    hours: Mapped[int] = mapped_column(default=0)  # credited (volunteers who attended)
