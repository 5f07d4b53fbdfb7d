"""The report's chart: the weekly trend of cases received and closed with the
completion rate, and bars by unit (communities of a district, grids of a
community, catalogue items of a grid).

matplotlib's object API with the Agg canvas (no pyplot, no global state, no
display, no network), so several reports may render at once in threads.  Every
text is set in Noto Sans SC, loaded by path from the ``pylopdf-fonts-zh-cn``
package (SIL Open Font License 1.1), which has the glyphs of Simplified and
Traditional Chinese and of Latin: labels in any of the bot's languages render,
never as boxes (tests/reports/test_reports_files.py checks every glyph).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pylopdf_fonts_zh_cn
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties, fontManager
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.services.l10n import Translate, translator
from bot.services.reports.common import Report, ScopeKind
from bot.services.reports.texts import pct, title

MAX_BARS = 40
RECEIVED = "#90b4dc"
CLOSED = "#2e7d32"
RATE = "#c62828"
TARGET = "#757575"


@cache
def font_path() -> Path:
    """The CJK font file; registered with matplotlib once so tick labels can name its family."""
    path = Path(pylopdf_fonts_zh_cn.sans_path())
    fontManager.addfont(str(path))
    return path


def font(size: float) -> FontProperties:
    return FontProperties(fname=str(font_path()), size=size)


def family() -> str:
    return font(10).get_name()


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    received: int
    closed: int
    rate: float | None


def unit_bars(report: Report, _: Translate) -> tuple[str, list[Bar], int]:
    """(heading, bars, how many units there are) for the lower panel."""
    if report.scope.kind == ScopeKind.district:
        rows = [(r.label, r.figures) for r in report.by_community]
        heading = _("By community")
    elif report.scope.kind == ScopeKind.community:
        rows = [(r.label, r.figures) for r in report.by_grid]
        heading = _("By grid")
    else:
        rows = [(r.label, r.figures) for r in report.by_category]
        heading = _("By category")
    bars = [Bar(label, f.sent, f.completed, f.completion_rate) for label, f in rows]
    total = len(bars)
    if total > MAX_BARS:  # the busiest ones, still in their order
        keep = {id(b) for b in sorted(bars, key=lambda b: -b.received)[:MAX_BARS]}
        bars = [b for b in bars if id(b) in keep]
    return heading, bars, total


def figure(report: Report, _: Translate) -> Figure:
    heading, bars, total = unit_bars(report, _)
    # Fixed margins in inches (matplotlib's layout engines measure every label: too slow here).
    upper, lower = 3.6, max(1.2, 0.34 * len(bars) + 0.3)
    top, gap, bottom = 0.95, 1.05, 0.45
    height = top + upper + gap + lower + bottom
    width, left, right = 9.5, 0.3 + 0.12 * max([4] + [_width(b.label) for b in bars]), 0.75
    left = min(left, 3.6)
    fig = Figure(figsize=(width, height), dpi=100)
    grid = fig.add_gridspec(2, 1, height_ratios=[upper, lower], left=left / width, right=1 - right / width,
                            top=1 - top / height, bottom=bottom / height, hspace=gap / ((upper + lower) / 2))
    fam = family()
    target = next(t for t in report.targets if t.key == "completion")

    fig.suptitle(title(_, report) + "\n" + _("Completion rate {rate} · target {target}").format(
        rate=pct(report.cases.completion_rate), target=f"≥ {target.threshold * 100:g}%"), fontproperties=font(12))

    # Weekly trend: bars received / closed (of those received), line: completion rate.
    ax = fig.add_subplot(grid[0])
    xs = list(range(len(report.trend)))
    ax.bar([x - 0.2 for x in xs], [p.sent for p in report.trend], 0.4, color=RECEIVED, label=_("Received"))
    ax.bar([x + 0.2 for x in xs], [p.completed for p in report.trend], 0.4, color=CLOSED,
           label=_("Closed (of those received)"))
    step = max(1, len(xs) // 14)
    ax.set_xticks(xs[::step], [_local(p.start, report) for p in report.trend][::step])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    highest = max([p.sent for p in report.trend], default=0)
    ax.set_ylim(0, highest * 1.45 + 1)  # headroom for the legend
    ax.set_ylabel(_("Cases"), fontproperties=font(9))
    ax.set_xlabel(_("Week starting (weeks cut to the period)"), fontproperties=font(9))
    ax.set_title(_("Weekly trend"), fontproperties=font(11), loc="left")
    rate_ax = ax.twinx()
    rates = [p.completion_rate * 100 if p.completion_rate is not None else float("nan") for p in report.trend]
    rate_ax.plot(xs, rates, color=RATE, marker="o", linewidth=1.8, label=_("Completion rate"))
    rate_ax.axhline(target.threshold * 100, color=TARGET, linestyle="--", linewidth=1, label=_("Target"))
    rate_ax.set_ylim(0, 145)  # the same headroom
    rate_ax.set_yticks([0, 20, 40, 60, 80, 100])
    rate_ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    handles = ax.get_legend_handles_labels()
    more = rate_ax.get_legend_handles_labels()
    ax.legend(handles[0] + more[0], handles[1] + more[1], prop=font(8), loc="upper left", ncols=2,
              framealpha=0.85)
    for a in (ax, rate_ax):
        a.tick_params(labelsize=8, labelfontfamily=fam)
        a.spines["top"].set_visible(False)

    # By unit: received and closed, completion rate at the end of each row.
    bx = fig.add_subplot(grid[1])
    if bars:
        ys = list(range(len(bars)))[::-1]
        bx.barh([y + 0.2 for y in ys], [b.received for b in bars], 0.4, color=RECEIVED, label=_("Received"))
        bx.barh([y - 0.2 for y in ys], [b.closed for b in bars], 0.4, color=CLOSED,
                label=_("Closed (of those received)"))
        bx.set_yticks(ys, [b.label for b in bars])
        widest = max((b.received for b in bars), default=0) or 1
        for y, b in zip(ys, bars, strict=True):
            bx.text(b.received + widest * 0.01, y, pct(b.rate), va="center", fontproperties=font(8))
        bx.set_xlim(0, widest * 1.15)
        bx.set_ylim(-0.6, len(bars) - 0.4)
        bx.xaxis.set_major_locator(MaxNLocator(integer=True))
        bx.legend(prop=font(8), loc="lower right", framealpha=0.85)
    else:
        bx.text(0.5, 0.5, _("No cases in this period"), ha="center", va="center", transform=bx.transAxes,
                fontproperties=font(10))
        bx.set_xticks([])
        bx.set_yticks([])
    shown = heading if total <= len(bars) else _("{heading} (the {shown} busiest of {total})").format(
        heading=heading, shown=len(bars), total=total)
    bx.set_title(shown, fontproperties=font(11), loc="left")
    bx.tick_params(labelsize=8, labelfontfamily=fam)
    bx.spines["top"].set_visible(False)
    bx.spines["right"].set_visible(False)
    return fig


def _width(label: str) -> float:
    """A label's width in 8-point em: CJK characters are square, Latin ones about half."""
    return sum(1.0 if ord(ch) > 0x2E80 else 0.58 for ch in label)


def _local(moment: datetime, report: Report) -> str:
    return moment.astimezone(ZoneInfo(report.tz_name)).strftime("%m-%d")


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buf)
    return buf.getvalue()


def render_png(report: Report) -> bytes:
    """The chart as PNG bytes, labels in the report's language (CPU-bound: run it in a thread)."""
    return png(figure(report, translator(report.locale)))


def counts_png(heading: str, labels: list[str], counts: list[int]) -> bytes:
    """One bar per choice with its count and share (a consultation's result), as PNG bytes."""
    fig = Figure(figsize=(8, 1.4 + 0.45 * max(len(labels), 1)), dpi=100)
    left = min(3.6, 0.3 + 0.12 * max([4] + [_width(label) for label in labels])) / 8
    ax = fig.add_axes((left, 0.12, 0.9 - left, 0.7))
    fig.suptitle(heading, fontproperties=font(11))
    ys = list(range(len(labels)))[::-1]
    total = sum(counts) or 1
    ax.barh(ys, counts, 0.6, color=CLOSED)
    ax.set_yticks(ys, labels)
    widest = max(counts, default=0) or 1
    for y, n in zip(ys, counts, strict=True):
        ax.text(n + widest * 0.01, y, f"{n} · {pct(n / total)}", va="center", fontproperties=font(9))
    ax.set_xlim(0, widest * 1.25)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=9, labelfontfamily=family())
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return png(fig)
