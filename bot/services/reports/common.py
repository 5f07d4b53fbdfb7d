"""What every part of the reports shares: the scope kinds, the report's data
(filled by :mod:`bot.services.reports.figures`, read by the summary, the
chart, the workbook and the digest) and the callback codec of report buttons.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from bot.config import Settings
from bot.services.cases import Figures, WeekPoint
from bot.services.consultations import Turnout
from bot.services.diary import DiaryFigures
from bot.services.events import EventFigures
from bot.services.org import OrgFigures
from bot.services.reports.periods import Period

REPORT_CB = "rp"  # callback data prefix (handlers.reports.router.ReportCb packs the same layout)


class ScopeKind(enum.StrEnum):
    district = "district"
    community = "community"
    grid = "grid"


@dataclass(frozen=True, slots=True)
class Scope:
    kind: ScopeKind
    id: int
    code: str
    name: str


def report_cb(action: str, kind: str = "", scope_id: int = 0, period: str = "", page: int = 0) -> str:
    """Callback data of report buttons written by services (the digest): the layout
    aiogram packs for ``handlers.reports.router.ReportCb``."""
    return f"{REPORT_CB}:{action}:{kind}:{scope_id}:{period}:{page}"


# ------------------------------------------------------------------ the report

@dataclass(frozen=True, slots=True)
class Target:
    key: str  # completion, on_time, rework, satisfied
    value: float | None  # a share (0-1)
    threshold: float  # a share (0-1)
    ceiling: bool = False  # met when value <= threshold (rework); else value >= threshold

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.threshold + 1e-12 if self.ceiling else self.value >= self.threshold - 1e-12


@dataclass(frozen=True, slots=True)
class Row:
    key: int | None
    label: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class GridRow:
    grid_id: int
    label: str
    community: str
    figures: Figures
    diary: DiaryFigures
    households_overdue: int


@dataclass(frozen=True, slots=True)
class WorkerRow:
    user_id: int | None  # None: cases nobody has accepted yet
    name: str
    figures: Figures
    diary: DiaryFigures


@dataclass(slots=True)
class AppointmentFigures:
    booked: int = 0  # not cancelled: attended + no-show + still booked
    attended: int = 0
    no_show: int = 0
    unmarked: int = 0  # still "booked" on a day before the report's day
    upcoming: int = 0  # still "booked" on the report's day or later
    cancelled: int = 0
    proxy: int = 0  # of the booked, booked by a worker for a resident

    @property
    def no_show_rate(self) -> float | None:
        marked = self.attended + self.no_show
        return self.no_show / marked if marked else None

    def add(self, other: AppointmentFigures) -> None:
        for name in ("booked", "attended", "no_show", "unmarked", "upcoming", "cancelled", "proxy"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass(frozen=True, slots=True)
class CommentLine:
    number: str
    score: int
    comment: str


@dataclass(frozen=True, slots=True)
class CaseLine:
    number: str
    submitted_at: datetime
    category: str
    grid: str
    worker: str
    status: str
    closed: bool
    withdrawn: bool
    on_time: bool
    reworked: bool
    emergency: bool
    score: int | None
    accept_s: float | None
    close_s: float | None
    comment: str | None = None


@dataclass(slots=True)
class Report:
    scope: Scope
    period: Period
    as_of: datetime
    locale: str
    tz_name: str
    cases: Figures
    targets: list[Target]
    by_community: list[Row]
    by_grid: list[GridRow]
    by_category: list[Row]
    by_worker: list[WorkerRow]
    trend: list[WeekPoint]
    diary: DiaryFigures
    households_overdue: int
    appointments: AppointmentFigures
    by_station: list[tuple[str, AppointmentFigures]]
    comments: list[CommentLine] = field(default_factory=list)
    overdue_cases: int = 0  # 超期: open now and past a limit (a snapshot at as_of)
    open_now: int = 0  # 在办: open now, not waiting for the resident (a snapshot; overdue_cases are some of them)
    # Residents' consultations asked in the period (bot.services.consultations.turnout): the
    # whole scope, and per community (a district's report) or per grid.
    consultations: Turnout | None = None
    consultations_by: list[tuple[str, Turnout]] = field(default_factory=list)
    lines: list[CaseLine] = field(default_factory=list)  # the cohort's cases (the CSV)
    organisation: OrgFigures = field(default_factory=OrgFigures)  # heads' coverage, volunteers' errands
    organisation_by: list[tuple[str, OrgFigures]] = field(default_factory=list)  # per community / grid
    events: EventFigures = field(default_factory=EventFigures)  # service days
    events_by: list[tuple[str, EventFigures]] = field(default_factory=list)  # per community (a district's report)


def targets_for(figs: Figures, settings: Settings) -> list[Target]:
    return [
        Target("completion", figs.completion_rate, settings.report_target_completion / 100),
        Target("on_time", figs.on_time_rate, settings.report_target_on_time / 100),
        Target("rework", figs.rework_rate, settings.report_target_rework / 100, ceiling=True),
        Target("satisfied", figs.satisfied_share, settings.report_target_satisfied / 100),
    ]
