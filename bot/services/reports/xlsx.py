"""The report as a workbook (openpyxl, one sheet per table) and the period's
cases as CSV.

Rates are stored as numbers with a percentage format, durations in hours, so
the sheets can be sorted and summed; labels are in the reader's language.
The CSV is UTF-8 with a byte-order mark (Excel then opens the Chinese right)
and carries no personal data: a case is found again by its number.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from bot.services.cases import Figures
from bot.services.l10n import Translate, Translator
from bot.services.reports.common import CaseLine, Report, ScopeKind
from bot.services.reports.texts import (
    as_of_label,
    care_label,
    opinion_label,
    period_label,
    scope_kind_label,
    target_label,
    target_rule,
)

PERCENT = "0.0%"
HOURS = "0.00"
_BAD_SHEET_CHARS = str.maketrans({c: " " for c in "[]:*?/\\"})


# A cell that starts with one of these is run as a formula by spreadsheet programs
# (CSV), or is one (XLSX "="): residents' and workers' words never are.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """``value`` for a CSV cell: text that a spreadsheet would run as a formula
    gets a leading apostrophe, the usual mark of "this is text"."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _text_cell(ws: WriteOnlyWorksheet, value: Any) -> Any:
    """``value`` for an XLSX row: a string that openpyxl would store as a
    formula (it starts with "=") is stored as the plain text it is."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        cell = WriteOnlyCell(ws, value=value)
        cell.data_type = "s"
        return cell
    return value


def _hours(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds / 3600, 2)


class _Sheet:
    def __init__(self, wb: Workbook, name: str) -> None:
        self.ws: WriteOnlyWorksheet = wb.create_sheet(name.translate(_BAD_SHEET_CHARS)[:31])

    def header(self, *labels: str) -> None:
        cells = []
        for label in labels:
            cell = WriteOnlyCell(self.ws, value=label)
            cell.data_type = "s"
            cell.font = Font(bold=True)
            cells.append(cell)
        self.ws.append(cells)

    def row(self, *values: Any, formats: dict[int, str] | None = None) -> None:
        cells = []
        for i, value in enumerate(values):
            if formats and i in formats and value is not None:
                cell = WriteOnlyCell(self.ws, value=value)
                cell.number_format = formats[i]
                cells.append(cell)
            else:
                cells.append(_text_cell(self.ws, value))
        self.ws.append(cells)


def _case_headers(_: Translate) -> list[str]:
    return [_("Received"), _("Closed"), _("Withdrawn"), _("Due"), _("Completion rate"), _("On-time completion"),
            _("Rework rate"), _("Mean rating"), _("Rated 4-5"), _("Median hours to close"), _("Emergencies")]


def _case_values(f: Figures) -> list[Any]:
    return [f.sent, f.completed, f.withdrawn, f.due, f.completion_rate, f.on_time_rate, f.rework_rate,
            None if f.satisfaction_mean is None else round(f.satisfaction_mean, 2), f.satisfied_share,
            _hours(f.close_seconds_median), f.emergencies]


def _case_formats(offset: int) -> dict[int, str]:
    return {offset + 4: PERCENT, offset + 5: PERCENT, offset + 6: PERCENT, offset + 8: PERCENT, offset + 9: HOURS}


def workbook(report: Report, _: Translator) -> bytes:
    """The report's tables, one sheet each (CPU-bound: run it in a thread)."""
    wb = Workbook(write_only=True)
    c = report.cases

    s = _Sheet(wb, _("Summary"))
    s.row(_("Report"), report.scope.name, scope_kind_label(_, report.scope.kind))
    s.row(_("Period"), period_label(_, report.period))
    s.row(_("As of"), f"{as_of_label(report)} ({report.tz_name})")
    s.row()
    s.header(_("Figure"), _("Value"), _("Target"), _("Met"))
    for t in report.targets:
        s.row(target_label(_, t.key), t.value, target_rule(t),
              {True: _("met"), False: _.pgettext("target", "missed"), None: _("no data")}[t.met], formats={1: PERCENT})
    rows: list[tuple[str, Any, str | None]] = [
        (_("Cases received"), c.sent, None),
        (_("Accepted"), c.accepted, None),
        (_("Due"), c.due, None),
        (_("Closed"), c.completed, None),
        (_("Closed: confirmed by the resident"), c.completed_confirmed, None),
        (_("Closed: automatically"), c.completed_auto, None),
        (_("Withdrawn"), c.withdrawn, None),
        (_("Not closed yet"), c.open, None),
        (_("Closed on time"), c.on_time, None),
        (_("Resolved at least once"), c.resolved, None),
        (_("Reopened (rework)"), c.reworked, None),
        (_("Ratings"), c.ratings, None),
        (_("Mean rating"), None if c.satisfaction_mean is None else round(c.satisfaction_mean, 2), None),
        (_("Comments"), c.comments, None),
        (_("Median hours to accept"), _hours(c.accept_seconds_median), HOURS),
        (_("Median hours to close"), _hours(c.close_seconds_median), HOURS),
        (_("Emergencies"), c.emergencies, None),
        (_("Emergencies acknowledged"), c.emergencies_acknowledged, None),
        (_("Median minutes to acknowledge an emergency"),
         None if c.emergency_ack_seconds_median is None else round(c.emergency_ack_seconds_median / 60, 1), None),
        (_("Open now"), report.open_now, None),
        (_("Overdue open cases now"), report.overdue_cases, None),
        (_("Visits"), report.diary.visits, None),
        (_("Households visited"), report.diary.households_visited, None),
        (_("Opinions"), report.diary.opinions, None),
        (_("Problems found"), report.diary.problems, None),
        (_("Problems made cases"), report.diary.cases_opened, None),
        (_("Patrols"), report.diary.patrols, None),
        (_("Households overdue for a visit now"), report.households_overdue, None),
        (_("Appointments"), report.appointments.booked, None),
        (_("Attended"), report.appointments.attended, None),
        (_("No-shows"), report.appointments.no_show, None),
        (_("No-show rate"), report.appointments.no_show_rate, PERCENT),
    ]
    for label, value, fmt in rows:
        s.row(label, value, formats={1: fmt} if fmt else None)

    s = _Sheet(wb, _("Weekly trend"))
    s.header(_("Week starting"), _("Received"), _("Withdrawn"), _("Closed"), _("Due"), _("Completion rate"))
    tz = ZoneInfo(report.tz_name)
    for p in report.trend:
        s.row(p.start.astimezone(tz).strftime("%Y-%m-%d"), p.sent, p.withdrawn, p.completed, p.due,
              p.completion_rate, formats={5: PERCENT})

    if report.scope.kind == ScopeKind.district:
        s = _Sheet(wb, _("By community"))
        s.header(_("Community"), *_case_headers(_))
        for r in report.by_community:
            s.row(r.label, *_case_values(r.figures), formats=_case_formats(1))

    s = _Sheet(wb, _("By grid"))
    s.header(_("Grid"), _("Community"), *_case_headers(_), _("Visits"), _("Opinions"), _("Problems found"),
             _("Problems made cases"), _("Patrols"), _("Households overdue for a visit now"))
    for g in report.by_grid:
        d = g.diary
        s.row(g.label, g.community, *_case_values(g.figures), d.visits, d.opinions, d.problems, d.cases_opened,
              d.patrols, g.households_overdue, formats=_case_formats(2))

    s = _Sheet(wb, _("By category"))
    s.header(_("Category"), *_case_headers(_))
    for r in report.by_category:
        s.row(r.label, *_case_values(r.figures), formats=_case_formats(1))

    s = _Sheet(wb, _("By worker"))
    s.header(_("Worker"), *_case_headers(_), _("Visits"), _("Households visited"), _("Opinions"),
             _("Problems found"), _("Patrols"), _("Days logged"), _("Cases closed during the period"))
    for w in report.by_worker:
        d = w.diary
        s.row(w.name, *_case_values(w.figures), d.visits, d.households_visited, d.opinions, d.problems, d.patrols,
              d.days_logged, d.cases_closed, formats=_case_formats(1))

    s = _Sheet(wb, _("Patrol diary"))
    s.header(_("Kind"), _("Category"), _("Count"))
    for key, n in sorted(report.diary.visits_by_category.items(), key=lambda kv: (-kv[1], kv[0])):
        s.row(_("Visits"), care_label(_, key), n)
    for key, n in sorted(report.diary.opinions_by_category.items(), key=lambda kv: (-kv[1], kv[0])):
        s.row(_("Opinions"), opinion_label(_, key), n)
    s.row(_("Problems found"), "", report.diary.problems)

    s = _Sheet(wb, _("Appointments"))
    s.header(_("Station"), _("Appointments"), _("Attended"), _("No-shows"), _("No-show rate"), _("Not marked"),
             _("Upcoming"), _("Cancelled"), _("Booked by a worker"))
    for name, a in [*report.by_station, (_("Total"), report.appointments)]:
        s.row(name, a.booked, a.attended, a.no_show, a.no_show_rate, a.unmarked, a.upcoming, a.cancelled, a.proxy,
              formats={4: PERCENT})

    unit = _("Community") if report.scope.kind == ScopeKind.district else _("Grid")
    s = _Sheet(wb, _("Consultations"))
    s.header(unit, _("Consultations"), _("Residents asked"), _("Answered"), _("Turnout"))
    total = [(_("Total"), report.consultations)] if report.consultations else []
    for name, t in [*report.consultations_by, *total]:
        s.row(name, t.consultations, t.asked, t.answered, t.rate, formats={4: PERCENT})

    s = _Sheet(wb, _("Organisation"))
    s.header(unit, _("Buildings"), _("With a building head"), _("Coverage"), _("Errands offered to volunteers"),
             _("Errands taken"))
    for name, o in [*report.organisation_by, (_("Total"), report.organisation)]:
        s.row(name, o.buildings, o.buildings_with_head, o.coverage, o.errands_offered, o.errands_taken,
              formats={3: PERCENT})

    s = _Sheet(wb, _("Service days"))
    s.header(_("Community"), _("Service days held"), _("Seats taken"), _("Attended"), _("Volunteer hours"))
    for name, e in [*report.events_by, (_("Total"), report.events)]:
        s.row(name, e.held, e.signed_up, e.attended, e.volunteer_hours)

    s = _Sheet(wb, _("Comments"))
    s.header(_("Case"), _("Rating"), _("Comment"))
    for line in report.comments:
        s.row(line.number, line.score, line.comment)

    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# ------------------------------------------------------------------ the cases, as CSV

def cases_csv(lines: Sequence[CaseLine], _: Translate, tz: ZoneInfo) -> bytes:
    out = io.StringIO()
    w = csv.writer(out)
    yes, no = _("yes"), _("no")

    def yn(flag: bool) -> str:
        return yes if flag else no

    w.writerow([_("Case"), _("Received at"), _("Category"), _("Grid"), _("Worker"), _("Status now"), _("Closed"),
                _("Withdrawn"), _("Closed on time"), _("Reopened (rework)"), _("Emergency"), _("Rating"),
                _("Hours to accept"), _("Hours to close")])
    rows: Iterable[list[Any]] = (
        [c.number, c.submitted_at.astimezone(tz).strftime("%Y-%m-%d %H:%M"), c.category, c.grid, c.worker,
         c.status, yn(c.closed), yn(c.withdrawn), yn(c.on_time) if c.closed else "", yn(c.reworked),
         yn(c.emergency), "" if c.score is None else c.score,
         "" if c.accept_s is None else f"{c.accept_s / 3600:.2f}",
         "" if c.close_s is None else f"{c.close_s / 3600:.2f}"] for c in lines)
    w.writerows([csv_safe(value) for value in row] for row in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")
