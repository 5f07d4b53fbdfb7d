"""The district's structure: district → community → grid → building (→ unit),
service stations, departments and the service catalogue.

Human-readable names are stored per locale in a JSON object
``{"zh-Hans": ..., "zh-Hant": ..., "en": ...}``; :func:`models.i18n_name`
picks one with fallbacks.  Every row has a stable ``code`` used by imports.
"""

from __future__ import annotations

import enum
from typing import Annotated, Any

from sqlalchemy import ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import CommunityRestrict, GridRestrict, IdBase, JSONType, TimestampMixin

__all__ = ["Building", "Community", "Department", "District", "Grid", "GridKind",
           "ServiceItem", "ServiceKind", "Station", "StationService", "i18n_name"]

LocalizedText = dict[str, str]
# The stable code imports name a row by; a text per locale (names, addresses...).
Code = Annotated[str, mapped_column(String(32), unique=True)]
Localized = Annotated[LocalizedText, mapped_column(JSONType)]


class GridKind(enum.StrEnum):
    residential = "residential"
    special = "special"  # 专属网格: industrial park, office tower, shopping area


class ServiceKind(enum.StrEnum):
    proxy = "proxy"  # 暖心代办
    appointment = "appointment"  # 预约服务
    report = "report"  # a problem reported by a resident
    consult = "consult"  # advice, study, meetings, culture at a station


class District(TimestampMixin, IdBase):
    __tablename__ = "districts"
    code: Mapped[Code]
    names: Mapped[Localized]
    communities: Mapped[list[Community]] = relationship(back_populates="district")


class Community(TimestampMixin, IdBase):
    __tablename__ = "communities"
    code: Mapped[Code]
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id", ondelete="RESTRICT"), index=True)
    names: Mapped[Localized]
    active: Mapped[bool] = mapped_column(default=True)
    district: Mapped[District] = relationship(back_populates="communities")
    grids: Mapped[list[Grid]] = relationship(back_populates="community")


class Grid(TimestampMixin, IdBase):
    __tablename__ = "grids"
    code: Mapped[Code]
    community_id: Mapped[CommunityRestrict] = mapped_column(index=True)
    names: Mapped[Localized]
    kind: Mapped[GridKind] = mapped_column(default=GridKind.residential)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    active: Mapped[bool] = mapped_column(default=True)
    community: Mapped[Community] = relationship(back_populates="grids")
    buildings: Mapped[list[Building]] = relationship(back_populates="grid")


class Building(TimestampMixin, IdBase):
    __tablename__ = "buildings"
    code: Mapped[Code]
    grid_id: Mapped[GridRestrict] = mapped_column(index=True)
    names: Mapped[Localized]
    address: Mapped[str | None] = mapped_column(String(200))
    units: Mapped[int] = mapped_column(default=1)
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    active: Mapped[bool] = mapped_column(default=True)
    grid: Mapped[Grid] = relationship(back_populates="buildings")


class Station(TimestampMixin, IdBase):
    """网格党群服务站: a walk-in station belonging to a community."""

    __tablename__ = "stations"
    code: Mapped[Code]
    community_id: Mapped[CommunityRestrict] = mapped_column(index=True)
    names: Mapped[Localized]
    address: Mapped[Localized]
    phone: Mapped[str | None] = mapped_column(String(32))
    latitude: Mapped[float | None]
    longitude: Mapped[float | None]
    # {"mon": ["08:30-11:30", "13:30-17:00"], ...}; local time (DISPLAY_TZ).
    opening_hours: Mapped[dict[str, list[str]]] = mapped_column(JSONType, default=dict)
    active: Mapped[bool] = mapped_column(default=True)


class Department(TimestampMixin, IdBase):
    """职能部门: urban management, justice, police, civil affairs..."""

    __tablename__ = "departments"
    code: Mapped[Code]
    names: Mapped[Localized]
    # Working hours within which the department must acknowledge an escalation.
    ack_hours: Mapped[int] = mapped_column(default=4)
    active: Mapped[bool] = mapped_column(default=True)


class ServiceItem(TimestampMixin, IdBase):
    """An entry of the published service catalogue (为民服务清单)."""

    __tablename__ = "service_items"
    code: Mapped[Code]
    kind: Mapped[ServiceKind]
    names: Mapped[Localized]
    descriptions: Mapped[Localized] = mapped_column(default=dict)
    # Time limits in working hours (Asia/Shanghai, weekends and holidays excluded).
    accept_hours: Mapped[int] = mapped_column(default=4)
    resolve_hours: Mapped[int] = mapped_column(default=40)
    sort_order: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    # A category the district keeps private: its cases are never published (Open311).
    private: Mapped[bool] = mapped_column(default=False, server_default=false())


class StationService(IdBase):
    """Which catalogue items a station offers."""

    __tablename__ = "station_services"
    __table_args__ = (UniqueConstraint("station_id", "service_id"),)
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
