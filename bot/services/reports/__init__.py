"""Staff reports: the figures of a district, a community or a grid over a
period, in chat (summary), as a chart, a workbook and a CSV, and the Monday
digest to community secretaries (docs/metrics.md).

The package, lowest first::

    periods   local calendar days: this week ... this year, typed dates
    common    scope kinds, the report's data, the callback codec of report buttons
    scopes    who may see which scope (bot.services.access), what a scope covers
    texts     the report in words: labels, the chat summary
    figures   every figure of a scope over a period (build, compute)
    xlsx      the workbook and the CSV of the period's cases
    chart     the PNG chart (matplotlib, loaded on first use by ``files``)
    files     a report's three files
    jobs      the Monday digest (registered by bot.jobs.load_jobs)

This module is its public face: handlers, other features and the benchmarks
use the names below.
"""

from __future__ import annotations

from bot.services.reports.common import REPORT_CB, Report, Scope, ScopeKind, report_cb
from bot.services.reports.figures import build, compute
from bot.services.reports.files import (
    Files,
    render_counts_png,
    render_csv,
    render_files,
    render_png,
    render_xlsx,
)
from bot.services.reports.periods import Period, dates_period, parse_dates, period_for
from bot.services.reports.scopes import resolve_scope, scope_options
from bot.services.reports.texts import pct, scope_kind_label, summary_text, title

__all__ = [
    "REPORT_CB",
    "Files",
    "Period",
    "Report",
    "Scope",
    "ScopeKind",
    "build",
    "compute",
    "dates_period",
    "parse_dates",
    "pct",
    "period_for",
    "render_counts_png",
    "render_csv",
    "render_files",
    "render_png",
    "render_xlsx",
    "report_cb",
    "resolve_scope",
    "scope_kind_label",
    "scope_options",
    "summary_text",
    "title",
]
