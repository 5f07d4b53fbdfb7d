"""A report's files: the chart (PNG), the workbook and the CSV of its cases,
labels in the report's language.  CPU-bound: run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.services.l10n import translator
from bot.services.reports.common import Report
from bot.services.reports.xlsx import cases_csv, workbook


@dataclass(frozen=True, slots=True)
class Files:
    stem: str
    png: bytes
    xlsx: bytes
    csv: bytes


def file_stem(report: Report) -> str:
    return f"report-{report.scope.code}-{report.period.start:%Y%m%d}-{report.period.last:%Y%m%d}"


def render_png(report: Report) -> bytes:
    """The chart (:mod:`bot.services.reports.chart`) as PNG bytes."""
    # Imported here, not at the top: matplotlib takes about half a second to load, and only
    # a report's files need it (not the bot's start, nor the job runner's).
    from bot.services.reports import chart

    return chart.render_png(report)


def render_files(report: Report) -> Files:
    """Chart, workbook and CSV of a report."""
    _ = translator(report.locale)
    return Files(file_stem(report), render_png(report), workbook(report, _),
                 cases_csv(report.lines, _, ZoneInfo(report.tz_name)))
