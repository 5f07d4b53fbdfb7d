"""The district's structure: district → community → grid → building (→ unit),
service stations, departments and the service catalogue.

Human-readable names are stored per locale in a JSON object
``{"zh-Hans": ..., "zh-Hant": ..., "en": ...}``; :func:`models.i18n_name`
picks one with fallbacks.  Every row has a stable ``code`` used by imports.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, BigIntPK, JSONType, UTCDateTime, enum_column, utcnow

LocalizedText = dict[str, str]


class GridKind(enum.StrEnum):
    residential = "residential"
    special = "special"  # 专属网格: industrial park, office tower, shopping area


class ServiceKind(enum.StrEnum):
    proxy = "proxy"  # 暖心代办
    appointment = "appointment"  # 预约服务
    report = "report"  # a problem reported by a resident
    consult = "consult"  # advice, study, meetings, culture at a station


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class District(TimestampMixin, Base):
    __tablename__ = "districts"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    names: Mapped[LocalizedText] = mapped_column(JSONType)
    communities: Mapped[list[Community]] = relationship(back_populates="district")


class Community(TimestampMixin, Base):
    __tablename__ = "communities"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="RESTRICT"), index=True)
    names: Mapped[LocalizedText] = mapped_column(JSONType)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    district: Mapped[District] = relationship(back_populates="communities")
    grids: Mapped[list[Grid]] = relationship(back_populates="community")


class Grid(TimestampMixin, Base):
    __tablename__ = "grids"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="RESTRICT"), index=True)
    names: Mapped[LocalizedText] = mapped_column(JSONType)
    kind: Mapped[GridKind] = mapped_column(enum_column(GridKind), default=GridKind.residential)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    community: Mapped[Community] = relationship(back_populates="grids")
    buildings: Mapped[list[Building]] = relationship(back_populates="grid")


class Building(TimestampMixin, Base):
    __tablename__ = "buildings"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    grid_id: Mapped[int] = mapped_column(ForeignKey("grids.id", ondelete="RESTRICT"), index=True)
    names: Mapped[LocalizedText] = mapped_column(JSONType)
    address: Mapped[str | None] = mapped_column(String(200))
    units: Mapped[int] = mapped_column(Integer, default=1)
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    grid: Mapped[Grid] = relationship(back_populates="buildings")


class Station(TimestampMixin, Base):
    """网格党群服务站: a walk-in station belonging to a community."""

    __tablename__ = "stations"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id", ondelete="RESTRICT"), index=True)
    names: Mapped[LocalizedText] = mapped_column(JSONType)
    address: Mapped[LocalizedText] = mapped_column(JSONType)
    phone: Mapped[str | None] = mapped_column(String(32))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # {"mon": ["08:30-11:30", "13:30-17:00"], ...}; local time (DISPLAY_TZ).
    opening_hours: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Department(TimestampMixin, Base):
    """职能部门: urban management, justice, police, civil affairs..."""

    __tablename__ = "departments"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    names: Mapped[LocalizedText] = mapped_column(JSONType)
    # Working hours within which the department must acknowledge an escalation.
    ack_hours: Mapped[int] = mapped_column(Integer, default=4)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ServiceItem(TimestampMixin, Base):
    """An entry of the published service catalogue (为民服务清单)."""

    __tablename__ = "service_items"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[ServiceKind] = mapped_column(enum_column(ServiceKind))
    names: Mapped[LocalizedText] = mapped_column(JSONType)
    descriptions: Mapped[LocalizedText] = mapped_column(JSONType, default=dict)
    # Time limits in working hours (Asia/Shanghai, weekends and holidays excluded).
    accept_hours: Mapped[int] = mapped_column(Integer, default=4)
    resolve_hours: Mapped[int] = mapped_column(Integer, default=40)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A category the district keeps private: its cases are never published (Open311).
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class StationService(Base):
    """Which catalogue items a station offers."""

    __tablename__ = "station_services"
    __table_args__ = (UniqueConstraint("station_id", "service_id"),)
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    station_id: Mapped[int] = mapped_column(ForeignKey("stations.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("service_items.id", ondelete="CASCADE"), index=True)


def i18n_name(names: dict[str, Any] | None, locale: str, fallback: str = "") -> str:
    """The name for ``locale``, falling back zh-Hant→zh-Hans, then any."""
    if not names:
        return fallback
    for key in (locale, "zh-Hans" if locale.startswith("zh") else "en", "zh-Hans", "en"):
        if names.get(key):
            return str(names[key])
    return str(next(iter(names.values()), fallback))
