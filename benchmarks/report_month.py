"""Time a month report for the whole district: the figures (every SQL query),
the chart, the workbook and the CSV of the period's cases.

    .venv/bin/python -m benchmarks.report_month --database-url sqlite+aiosqlite:///district.db
    .venv/bin/python -m benchmarks.report_month --database-url postgresql+asyncpg://postgres@127.0.0.1/bench

Run it on a database made by ``benchmarks.report_data``.  The report is the
one an administrator gets for "last month" (November 2026 by default, as of
3 December 2026 12:00 Shanghai time), built exactly as the bot builds it
(:func:`bot.services.reports.compute`, then what
:func:`bot.services.reports.render_files` does).  Each run uses a fresh session;
the first run is reported separately (cold caches), then the median and the
worst of the others.  Prints one JSON object.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import time
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from benchmarks.scratch import database_arguments
from bot.config import Settings
from bot.services import reports
from models import Case, DiaryEntry, District
from models.database import create_engine, create_sessionmaker

TZ = ZoneInfo("Asia/Shanghai")


def _machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "load_1min": round(os.getloadavg()[0], 2)}


async def run(url: str, month: date, as_of: datetime, runs: int, locale: str) -> dict[str, object]:
    engine = create_engine(url)
    sm = create_sessionmaker(engine)
    settings = Settings(_env_file=None, DATABASE_URL=url)
    period = reports.dates_period(month, reports.period_for("tm", month).last)
    timings: list[dict[str, float]] = []
    sizes: dict[str, object] = {}
    async with sm() as s:
        district = await s.scalar(select(District).order_by(District.id))
        sizes["cases_total"] = await s.scalar(select(func.count()).select_from(Case))
        sizes["diary_entries_total"] = await s.scalar(select(func.count()).select_from(DiaryEntry))
    scope = reports.Scope(reports.ScopeKind.district, district.id, district.code, district.code)
    for _i in range(runs):
        t = {}
        began = time.perf_counter()
        async with sm() as s:
            report = await reports.compute(s, settings, scope, period, locale, as_of)
            t["figures"] = time.perf_counter() - began  # every query, the CSV's case lines included
        mark = time.perf_counter()
        png = reports.render_png(report)
        t["chart"] = time.perf_counter() - mark
        mark = time.perf_counter()
        xlsx = reports.render_xlsx(report)
        t["workbook"] = time.perf_counter() - mark
        mark = time.perf_counter()
        csv = reports.render_csv(report)
        t["csv"] = time.perf_counter() - mark
        t["total"] = time.perf_counter() - began
        timings.append(t)
        sizes.update(cohort=report.cases.sent, grids=len(report.by_grid), workers=len(report.by_worker),
                     png_bytes=len(png), xlsx_bytes=len(xlsx), csv_bytes=len(csv), csv_rows=len(report.lines),
                     diary_entries_in_month=report.diary.entries, completion=reports.pct(report.cases.completion_rate))
    await engine.dispose()
    warm = timings[1:] or timings

    def summary(rows: list[dict[str, float]]) -> dict[str, float]:
        return {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}

    return {"backend": url.split(":", 1)[0], "period": f"{period.start} – {period.last}", "as_of": as_of.isoformat(),
            "first_run": {k: round(v, 3) for k, v in timings[0].items()}, "median_of_others": summary(warm),
            "worst_total_of_others": round(max(r["total"] for r in warm), 3), "runs": runs, "sizes": sizes,
            "machine": _machine()}


def main() -> None:
    parser = database_arguments(__doc__)
    parser.add_argument("--month", type=date.fromisoformat, default=date(2026, 11, 1))
    parser.add_argument("--as-of", type=datetime.fromisoformat, default=datetime(2026, 12, 3, 12, 0))
    parser.add_argument("--runs", type=int, default=6)
    parser.add_argument("--locale", default="zh-Hans")
    args = parser.parse_args()
    as_of = args.as_of if args.as_of.tzinfo else args.as_of.replace(tzinfo=TZ)
    print(json.dumps(asyncio.run(run(args.database_url, args.month, as_of, args.runs, args.locale)),
                     ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
