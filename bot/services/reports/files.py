"""A report's files: the chart (PNG), the workbook and the CSV of its cases,
labels in the report's language.  CPU-bound: run them in a thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot.services.l10n import translator
from bot.services.reports.common import Report


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


def render_counts_png(heading: str, labels: list[str], counts: list[int]) -> bytes:
    """Bars of counts with their shares (a consultation's result: :func:`chart.counts_png`)."""
    # Imported here, not at the top: matplotlib loads slowly (see render_png).
    from bot.services.reports import chart

    return chart.counts_png(heading, labels, counts)


def render_xlsx(report: Report) -> bytes:
    """The workbook (:mod:`bot.services.reports.xlsx`), labels in the report's language."""
    # Imported here, not at the top: openpyxl adds some 300 modules and 17 MB to every
    # process, and only a report's files need it.
    from bot.services.reports import xlsx

    return xlsx.workbook(report, translator(report.locale))


def render_csv(report: Report) -> bytes:
    """The CSV of the period's cases, labels in the report's language."""
    from bot.services.reports import xlsx  # see render_xlsx

    return xlsx.cases_csv(report.lines, translator(report.locale), ZoneInfo(report.tz_name))


def render_files(report: Report) -> Files:
    """Chart, workbook and CSV of a report."""
    return Files(file_stem(report), render_png(report), render_xlsx(report), render_csv(report))
