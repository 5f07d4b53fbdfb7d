"""The chart, the workbook and the CSV open, their text is not tofu, and they
say what the chat summary says."""

from __future__ import annotations

import csv
import io
import warnings
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont
from matplotlib.figure import Figure
from matplotlib.font_manager import findfont
from matplotlib.text import Text
from openpyxl import load_workbook
from PIL import Image

from bot.services import reports
from bot.services.l10n import translator
from bot.services.reports import chart as reports_chart
from bot.services.reports import xlsx as reports_xlsx
from tests.factories import SETTINGS
from tests.reports.world import AS_OF, make_report_world

NOVEMBER = "d20261101-20261130"


def _cmap() -> set[int]:
    return set(TTFont(str(reports_chart.font_path()), fontNumber=0).getBestCmap())


def _drawn_texts(fig: Figure) -> list[Text]:
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def _assert_no_tofu(fig: Figure) -> int:
    """Draw ``fig``; every visible text must be set in the CJK font file, which
    must have a glyph for each of its characters, and matplotlib must not warn."""
    cmap = _cmap()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = reports_chart.png(fig)
    assert not [w for w in caught if "Glyph" in str(w.message) or "missing" in str(w.message)], \
        [str(w.message) for w in caught]
    texts = _drawn_texts(fig)
    assert texts
    for t in texts:
        used = Path(findfont(t.get_fontproperties(), fallback_to_default=False))
        assert used == reports_chart.font_path(), (t.get_text(), used)
        missing = [ch for ch in t.get_text() if not ch.isspace() and ord(ch) not in cmap]
        assert not missing, (t.get_text(), missing)
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.size == (round(fig.get_figwidth() * fig.dpi), round(fig.get_figheight() * fig.dpi))
    return len(texts)


def test_a_known_cjk_string_renders_in_the_shipped_font():
    fig = Figure(figsize=(4, 1))
    fig.text(0.05, 0.5, "新站社区第一网格 办结率 96.6% 網格辦結率 滿意度", fontproperties=reports_chart.font(12))
    assert _assert_no_tofu(fig) == 1
    # The same string in matplotlib's default font would be tofu: the check above can fail.
    plain = Figure(figsize=(4, 1))
    plain.text(0.05, 0.5, "办结率")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reports_chart.png(plain)
    assert any("missing from font" in str(w.message) for w in caught)


SCOPES = {  # name: (who asks, scope kind, which, locale)
    "zh-Hans": ("s1", "community", "C1", "zh-Hans"),
    "zh-Hant": ("s1", "community", "C1", "zh-Hant"),
    "en": ("s1", "community", "C1", "en"),
    "district": ("admin", "district", "D", "zh-Hans"),
    "grid": ("h1", "grid", "G1", "zh-Hant"),
}


async def _reports(sessionmaker, *names: str) -> dict[str, reports.Report]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        w = await make_report_world(s)
        await s.commit()
        ids = {"C1": w.place.communities[0].id, "D": w.place.district.id, "G1": w.place.grids[0].id}
        out = {}
        for name in names:
            who, kind, which, locale = SCOPES[name]
            out[name] = await reports.build(s, SETTINGS, getattr(w, who), kind, ids[which], NOVEMBER, locale, AS_OF)
    return out


async def test_chart_text_is_never_tofu_and_matches_the_summary(sessionmaker):
    for key, b in (await _reports(sessionmaker, *SCOPES)).items():
        r = b
        _ = translator(r.locale)
        fig = reports_chart.figure(r, _)
        assert _assert_no_tofu(fig) > 10, key
        summary = reports.summary_text(_, r)
        rate = reports.pct(r.cases.completion_rate)
        assert rate in summary and rate in fig.get_suptitle(), key
        trend_ax, _rate_ax, bars_ax = fig.axes
        # The trend's received bars are the weekly received counts.
        received = [p.get_height() for p in trend_ax.patches][:len(r.trend)]
        assert received == [p.sent for p in r.trend], key
        # The lower panel: received / closed per unit (grids of a community, communities of a district).
        units = r.by_community if r.scope.kind == reports.ScopeKind.district else (
            r.by_grid if r.scope.kind == reports.ScopeKind.community else r.by_category)
        widths = [p.get_width() for p in bars_ax.patches]
        assert widths == [u.figures.sent for u in units] + [u.figures.completed for u in units], key
        # First unit on top.
        ticks = sorted(zip(bars_ax.get_yticks(), (t.get_text() for t in bars_ax.get_yticklabels()), strict=True))
        assert [label for _y, label in reversed(ticks)] == [u.label for u in units], key


async def test_workbook_and_csv_say_what_the_summary_says(sessionmaker):
    b = (await _reports(sessionmaker, "zh-Hans"))["zh-Hans"]
    r = b
    _ = translator("zh-Hans")
    files = reports.render_files(b)
    assert files.stem.startswith("report-C1-20261101-20261130")
    summary = reports.summary_text(_, r)
    wb = load_workbook(io.BytesIO(files.xlsx))
    assert wb.sheetnames == [_("Summary"), _("Weekly trend"), _("By grid"), _("By category"), _("By worker"),
                             _("Patrol diary"), _("Appointments"), _("Consultations"), _("Organisation"),
                             _("Service days"), _("Comments")]
    # No consultation in the world: the sheet has its header only.
    assert [list(row) for row in wb[_("Consultations")].iter_rows(values_only=True)] == [
        [_("Grid"), _("Consultations"), _("Residents asked"), _("Answered"), _("Turnout")]]
    # The organisation per grid and in total, as the summary's line; no service day held: the total only.
    organisation = [list(row) for row in wb[_("Organisation")].iter_rows(values_only=True)]
    assert organisation[0] == [_("Grid"), _("Buildings"), _("With a building head"), _("Coverage"),
                               _("Errands offered to volunteers"), _("Errands taken")]
    o = r.organisation
    assert organisation[-1] == [_("Total"), o.buildings, o.buildings_with_head, o.coverage, o.errands_offered,
                                o.errands_taken] and o.buildings > 0
    assert [row[0] for row in organisation[1:-1]] == [name for name, _o in r.organisation_by]
    assert sum(row[1] for row in organisation[1:-1]) == o.buildings
    assert [list(row) for row in wb[_("Service days")].iter_rows(values_only=True)][1:] == [[_("Total"), 0, 0, 0, 0]]
    rows = {row[0]: row[1:] for row in wb[_("Summary")].iter_rows(values_only=True) if row and row[0]}
    completion = rows[_("Completion rate")]
    assert completion[0] == pytest.approx(0.6) and reports.pct(completion[0]) in summary
    assert completion[1:] == ("≥ 95%", _.pgettext("target", "missed"))
    assert rows[_("Cases received")][0] == 6 and rows[_("Closed")][0] == 3
    assert rows[_("Median hours to close")][0] == 25.0
    assert rows[_("Overdue open cases now")][0] == 3
    assert rows[_("Households overdue for a visit now")][0] == 1
    assert rows[_("No-show rate")][0] == 0.5
    assert wb[_("Summary")]["B6"].number_format == "0.0%"

    grid_rows = list(wb[_("By grid")].iter_rows(values_only=True))
    assert grid_rows[0][:4] == (_("Grid"), _("Community"), _("Received"), _("Closed"))
    assert grid_rows[0][5:7] == (_("Due"), _("Completion rate"))
    assert [(g[0], g[2], g[3], g[5], g[6]) for g in grid_rows[1:]] == [
        ("新站社区第1网格", 4, 2, 4, 0.5), ("新站社区第2网格", 2, 1, 1, 1.0)]
    assert "新站社区第1网格 50.0% (2/4)" in summary  # below the completion target, as in the sheet
    trend = list(wb[_("Weekly trend")].iter_rows(values_only=True))[1:]
    assert [(t[0], t[1], t[3]) for t in trend] == [(p.start.strftime("%Y-%m-%d"), p.sent, p.completed)
                                                   for p in r.trend]
    comments = list(wb[_("Comments")].iter_rows(values_only=True))[1:]
    assert comments == [("DC-2026-C", 4, "及时"), ("DC-2026-A", 5, "很好")]
    workers = {row[0]: row for row in wb[_("By worker")].iter_rows(values_only=True)}
    assert workers["王一"][1:3] == (3, 2)

    assert files.csv.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(files.csv.decode("utf-8-sig"))))
    assert lines[0][0] == _("Case") and len(lines) == 1 + 6
    by_number = {line[0]: line for line in lines[1:]}
    assert by_number["DC-2026-F"][1] == "2026-11-30 23:30"  # local time, not UTC
    assert by_number["DC-2026-B"][9] == _("yes") and by_number["DC-2026-B"][8] == _("no")  # reworked, late
    assert by_number["DC-2026-A"][11] == "5" and by_number["DC-2026-A"][13] == "25.00"
    assert sum(line[6] == _("yes") for line in lines[1:]) == r.cases.completed


async def test_district_workbook_has_the_community_table(sessionmaker):
    b = (await _reports(sessionmaker, "district"))["district"]
    _ = translator("zh-Hans")
    wb = load_workbook(io.BytesIO(reports_xlsx.workbook(b, _)))
    rows = list(wb[_("By community")].iter_rows(values_only=True))[1:]
    assert [(row[0], row[1], row[2]) for row in rows] == [("新站社区", 6, 3), ("老站社区", 1, 1)]
