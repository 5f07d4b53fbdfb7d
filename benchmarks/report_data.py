"""Build a district at full size for the report benchmark: 300,000 residents,
60,000 cases with their events, 1,500,000 diary entries and 100,000
appointments over the twelve months before ``--end``.

    .venv/bin/python -m benchmarks.report_data --database-url sqlite+aiosqlite:///district.db
    .venv/bin/python -m benchmarks.report_data --database-url postgresql+asyncpg://postgres@127.0.0.1/bench

The database is migrated first and must be empty.  Rows go in with one
executemany per batch on SQLite and ``COPY`` on PostgreSQL (ids are given, so
references need no lookups); then ``ANALYZE``.  The data are random but
reproducible (``--seed``) and shaped like the district of the glossary:
32 communities, 457 grids, ~4,600 buildings, 35 stations, 20 catalogue items,
a worker and a grid head per grid (and a second worker in most), staff per
community.  Cases follow the closed loop (accepted, started, resolved, some
reopened and resolved again, confirmed or closed automatically, a few
withdrawn; ratings, emergencies, relayed messages and notes), so there are
about eight events per case.  Takes a few minutes.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from benchmarks.scratch import database_arguments
from models.database import create_engine, upgrade_sync

TZ = ZoneInfo("Asia/Shanghai")
COMMUNITIES, GRIDS, STATIONS, SERVICES = 32, 457, 35, 20
BATCH = 50_000
CARE = ["elderly_alone", "disabled", "member_hardship", "family_difficulty", "other"]
OPINIONS = ["environment", "property", "safety", "welfare", "dispute", "suggestion", "other"]


def names(zh: str, en: str) -> dict[str, str]:
    return {"zh-Hans": zh, "zh-Hant": zh, "en": en}


class Loader:
    """Bulk inserts with values in the backend's own form."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.pg = conn.dialect.name == "postgresql"
        self.rows = 0

    def value(self, v: Any) -> Any:
        if isinstance(v, datetime):
            return v if self.pg else v.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        if isinstance(v, date):
            return v if self.pg else v.isoformat()
        if isinstance(v, dict | list):
            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, bool):
            return v if self.pg else int(v)
        return v

    async def load(self, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
        n = 0
        batch: list[tuple[Any, ...]] = []
        for row in rows:
            batch.append(tuple(self.value(v) for v in row))
            if len(batch) >= BATCH:
                await self._flush(table, columns, batch)
                n += len(batch)
                batch = []
        if batch:
            await self._flush(table, columns, batch)
            n += len(batch)
        self.rows += n
        return n

    async def _flush(self, table: str, columns: Sequence[str], batch: list[tuple[Any, ...]]) -> None:
        if self.pg:
            raw = await self.conn.get_raw_connection()
            await raw.driver_connection.copy_records_to_table(table, records=batch, columns=list(columns))
        else:
            marks = ", ".join("?" for _ in columns)
            await self.conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", batch)


async def generate(url: str, *, residents: int, cases: int, diary: int, appointments: int, end: date,
                   seed: int) -> dict[str, int]:
    rnd = random.Random(seed)
    start = end - timedelta(days=365)
    span = (end - start).days * 86400
    t0 = datetime.combine(start, datetime.min.time(), TZ)
    now = datetime.combine(end, datetime.min.time(), TZ)
    created = t0 - timedelta(days=30)
    engine = create_engine(url)
    counts: dict[str, int] = {}
    async with engine.begin() as conn:
        if (await conn.execute(text("SELECT count(*) FROM cases"))).scalar():
            raise SystemExit("the database is not empty")
        L = Loader(conn)

        async def load(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
            t = time.perf_counter()
            counts[table] = await L.load(table, columns, rows)
            print(f"  {table}: {counts[table]:,} rows in {time.perf_counter() - t:.1f}s", file=sys.stderr)

        ts = ("created_at", "updated_at")
        await load("districts", ("id", "code", "names", *ts), [(1, "BD", names("东昌区", "Dongchang"), created, created)])
        await load("communities", ("id", "code", "district_id", "names", "active", *ts), [
            (c, f"BD-C{c:02d}", 1, names(f"第{c}社区", f"Community {c}"), True, created, created)
            for c in range(1, COMMUNITIES + 1)])
        grid_community = {g: (g - 1) % COMMUNITIES + 1 for g in range(1, GRIDS + 1)}
        await load("grids", ("id", "code", "community_id", "names", "kind", "active", *ts), [
            (g, f"BD-G{g:03d}", grid_community[g], names(f"第{g}网格", f"Grid {g}"), "residential", True, created,
             created) for g in range(1, GRIDS + 1)])
        buildings = [(b, (b - 1) % GRIDS + 1) for b in range(1, GRIDS * 10 + 1)]
        await load("buildings", ("id", "code", "grid_id", "names", "units", "active", *ts), [
            (b, f"BD-B{b:05d}", g, names(f"{b}号楼", f"Building {b}"), 3, True, created, created)
            for b, g in buildings])
        await load("stations", ("id", "code", "community_id", "names", "address", "opening_hours", "active", *ts), [
            (s, f"BD-S{s:02d}", (s - 1) % COMMUNITIES + 1, names(f"第{s}服务站", f"Station {s}"),
             names("路", "Road"), {}, True, created, created) for s in range(1, STATIONS + 1)])
        kinds = ["proxy", "report", "appointment", "consult"]
        await load("service_items", ("id", "code", "kind", "names", "descriptions", "accept_hours", "resolve_hours",
                                     "sort_order", "active", *ts), [
            (i, f"BD-SV{i:02d}", kinds[i % 4], names(f"服务事项{i}", f"Service {i}"), {}, 4, 40, i, True, created,
             created) for i in range(1, SERVICES + 1)])

        # People: residents, then a worker and a grid head per grid (a second worker in 2 of 3), staff, an admin.
        uid = 0
        people: list[tuple[Any, ...]] = []
        resident_grid: list[int] = []
        for _ in range(residents):
            uid += 1
            b, g = buildings[rnd.randrange(len(buildings))]
            people.append((uid, 100_000_000 + uid, f"居民{uid}", "zh-Hans", b, g, created, False, created))
            resident_grid.append(g)
        grants: list[tuple[Any, ...]] = []
        workers_of: dict[int, list[int]] = {}
        for g in range(1, GRIDS + 1):
            roles = ["worker", "grid_head"] + (["worker"] if g % 3 else [])
            for role in roles:
                uid += 1
                people.append((uid, 100_000_000 + uid, f"网格员{uid}", "zh-Hans", None, None, created, False, created))
                grants.append((len(grants) + 1, uid, role, "grid", g, created))
                workers_of.setdefault(g, []).append(uid)
        for c in range(1, COMMUNITIES + 1):
            uid += 1
            people.append((uid, 100_000_000 + uid, f"书记{uid}", "zh-Hans", None, None, created, False, created))
            grants.append((len(grants) + 1, uid, "staff", "community", c, created))
        uid += 1
        people.append((uid, 100_000_000 + uid, "区管理员", "zh-Hans", None, None, created, False, created))
        grants.append((len(grants) + 1, uid, "admin", "district", 1, created))
        await load("users", ("id", "telegram_id", "first_name", "locale", "building_id", "grid_id", "registered_at",
                             "unreachable", "created_at"), people)
        await load("role_grants", ("id", "user_id", "role", "scope_type", "scope_id", "granted_at"), grants)

        # Cases and their events.
        case_rows: list[tuple[Any, ...]] = []
        events: list[tuple[Any, ...]] = []
        ratings: list[tuple[Any, ...]] = []

        def event(case_id: int, at: datetime, type_: str, data: dict[str, Any] | None = None,
                  note: str | None = None, role: str = "system") -> None:
            events.append((len(events) + 1, case_id, at, role, type_, note, data or {}, True))

        for cid in range(1, cases + 1):
            r = rnd.randrange(residents) + 1
            g = resident_grid[r - 1]
            sent = t0 + timedelta(seconds=rnd.randrange(span))
            service = rnd.randrange(SERVICES + 4) + 1
            service_id = service if service <= SERVICES else None
            emergency = rnd.random() < 0.01
            owner = None
            status, reason = "new", None
            accepted = resolved = closed = None
            reopens = 0
            accept_due = sent + timedelta(hours=4)
            resolve_due = sent + timedelta(hours=rnd.choice((24, 48, 72)))
            event(cid, sent, "submitted", {"emergency": emergency}, role="resident")
            if emergency:
                event(cid, sent, "emergency_flagged")
                event(cid, sent, "emergency_alerted", {"level": 0})
                event(cid, sent + timedelta(seconds=rnd.randrange(60, 1800)), "emergency_acknowledged")
            horizon = now - sent
            if rnd.random() < 0.03 and horizon > timedelta(hours=2):
                event(cid, sent + timedelta(hours=1), "withdrawn", role="resident")
                status, reason, closed = "closed", "withdrawn", sent + timedelta(hours=1)
            elif rnd.random() < 0.96 and horizon > timedelta(hours=6):
                owner = rnd.choice(workers_of[g])
                accepted = sent + timedelta(seconds=rnd.randrange(300, 6 * 3600))
                event(cid, accepted, "accepted", {"on_time": accepted <= accept_due}, role="worker")
                event(cid, accepted + timedelta(minutes=10), "started", role="worker")
                for _ in range(rnd.randrange(0, 4)):
                    event(cid, accepted + timedelta(minutes=rnd.randrange(20, 600)), "message", {"from": "worker"},
                          note="已收到，正在处理")
                if rnd.random() < 0.3:
                    event(cid, accepted + timedelta(minutes=30), "note", note="内部备注", role="worker")
                status = "in_progress"
                done = accepted + timedelta(seconds=rnd.randrange(3600, 5 * 86400))
                if rnd.random() < 0.93 and done < now:
                    event(cid, done, "resolved", {"on_time": done <= resolve_due}, note="已办好", role="worker")
                    resolved, status = done, "resolved"
                    if rnd.random() < 0.06 and done + timedelta(days=1) < now:
                        reopens = 1
                        resolve_due = done + timedelta(days=2)
                        event(cid, done + timedelta(hours=20), "reopened", {"count": 1}, role="resident")
                        done = done + timedelta(hours=20) + timedelta(seconds=rnd.randrange(3600, 4 * 86400))
                        if done < now:
                            event(cid, done, "resolved", {"on_time": done <= resolve_due}, role="worker")
                            resolved = done
                        else:
                            status, resolved = "reopened", None
                    if status == "resolved":
                        answer = done + timedelta(seconds=rnd.randrange(600, 2 * 86400))
                        if rnd.random() < 0.8 and answer < now:
                            event(cid, answer, "confirmed", {}, role="resident")
                            status, reason, closed = "closed", "confirmed", answer
                        elif done + timedelta(days=3) < now:
                            event(cid, done + timedelta(days=3), "auto_closed", {"after_days": 3})
                            status, reason, closed = "closed", "auto", done + timedelta(days=3)
                        if closed is not None and rnd.random() < 0.6:
                            score = rnd.choices((5, 4, 3, 2, 1), weights=(60, 25, 8, 4, 3))[0]
                            comment = "很满意" if rnd.random() < 0.3 else None
                            event(cid, closed + timedelta(minutes=5), "rated", {"score": score}, note=comment,
                                  role="resident")
                            ratings.append((len(ratings) + 1, cid, r, score, comment, closed + timedelta(minutes=5)))
            case_rows.append((cid, f"BD-{sent.year}-{cid:06d}", "report" if service_id else "request", status,
                              service_id, r, grid_community[g], g, "", owner, sent, sent, accepted, resolved, closed,
                              reason, reopens, accept_due, resolve_due, emergency, sent if emergency else None, 0,
                              sent if emergency else None, sent))
        await load("cases", ("id", "number", "kind", "status", "service_id", "resident_id", "community_id", "grid_id",
                             "description", "owner_id", "created_at", "submitted_at", "accepted_at", "resolved_at",
                             "closed_at", "close_reason", "reopen_count", "accept_due_at", "resolve_due_at",
                             "emergency", "emergency_at", "emergency_level", "emergency_ack_at", "updated_at"),
                   case_rows)
        await load("case_events", ("id", "case_id", "at", "actor_role", "type", "note", "data", "public"), events)
        await load("case_ratings", ("id", "case_id", "resident_id", "score", "comment", "created_at"), ratings)
        case_rows.clear()
        events.clear()
        ratings.clear()

        # The household ledger, patrols and the diary.
        households = []
        for h in range(1, 20_001):
            b, g = buildings[rnd.randrange(len(buildings))]
            due = end + timedelta(days=rnd.randrange(-20, 30)) if rnd.random() < 0.8 else None
            households.append((h, f"BD-H{h:05d}", g, b, f"{h % 30 + 1}-{h % 6 + 1}01", f"住户{h}", True, due, created,
                               created))
        await load("households", ("id", "code", "grid_id", "building_id", "unit", "label", "active", "visit_due_on",
                                  "created_at", "updated_at"), households)
        by_grid: dict[int, list[int]] = {}
        for h, _code, g, *_rest in households:
            by_grid.setdefault(g, []).append(h)
        field = [(w, g) for g, ws in workers_of.items() for w in ws]
        patrols = []
        for p in range(1, 150_001):
            w, g = field[rnd.randrange(len(field))]
            begin = t0 + timedelta(seconds=rnd.randrange(span))
            patrols.append((p, w, g, begin, begin + timedelta(minutes=rnd.randrange(20, 180)), "manual"))
        await load("patrols", ("id", "worker_id", "grid_id", "started_at", "ended_at", "end_reason"), patrols)
        patrols.clear()

        def entries() -> Iterable[tuple[Any, ...]]:
            for e in range(1, diary + 1):
                w, g = field[rnd.randrange(len(field))]
                moment = t0 + timedelta(seconds=rnd.randrange(span))
                kind = rnd.choices(("visit", "opinion", "problem", "note"), weights=(50, 30, 15, 5))[0]
                category = household = None
                if kind == "visit":
                    category = rnd.choice(CARE)
                    homes = by_grid.get(g)
                    household = rnd.choice(homes) if homes and rnd.random() < 0.7 else None
                elif kind == "opinion":
                    category = rnd.choice(OPINIONS)
                case_id = rnd.randrange(cases) + 1 if kind == "problem" and rnd.random() < 0.3 else None
                deleted = moment if rnd.random() < 0.01 else None
                yield (e, w, g, kind, category, household, "巡查记录", case_id, moment, moment.astimezone(TZ).date(),
                       1, moment, moment, deleted)

        await load("diary_entries", ("id", "worker_id", "grid_id", "kind", "category", "household_id", "text",
                                     "case_id", "occurred_at", "day", "version", "created_at", "updated_at",
                                     "deleted_at"), entries())

        # Appointments: half-hour slots, two seats each.
        seats: dict[tuple[int, int, datetime], list[int]] = {}
        appts = []
        slot_id = 0
        for a in range(1, appointments + 1):
            station = rnd.randrange(STATIONS) + 1
            service = rnd.choice((3, 4, 7, 8))
            while True:
                day = start + timedelta(days=rnd.randrange((end - start).days))
                if day.weekday() < 5:
                    break
            begin = datetime.combine(day, datetime.min.time(), TZ) + timedelta(hours=8, minutes=30 + 30 * rnd.randrange(16))
            key = (station, service, begin)
            slot = seats.get(key)
            if slot is None:
                slot_id += 1
                slot = seats[key] = [slot_id, 0]
            slot[1] += 1
            r = rnd.randrange(residents) + 1
            past = begin < now
            status = rnd.choices(("attended", "no_show", "cancelled", "booked"), weights=(75, 8, 12, 5))[0] \
                if past else rnd.choice(("booked", "cancelled"))
            appts.append((a, slot[0], station, service, r, begin, begin + timedelta(minutes=30), day, status, False,
                          rnd.random() < 0.05, 1, "resident" if status == "cancelled" else None, begin, begin))
        await load("appointment_slots", ("id", "station_id", "service_id", "starts_at", "booked"),
                   [(sid, st, sv, begin, booked) for (st, sv, begin), (sid, booked) in seats.items()])
        await load("appointments", ("id", "slot_id", "station_id", "service_id", "resident_id", "starts_at", "ends_at",
                                    "day", "status", "at_home", "proxy", "version", "cancel_reason", "created_at",
                                    "updated_at"), appts)

        if L.pg:  # ids were given: move the sequences past them
            for table in counts:
                await conn.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    async with engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()
    await engine.dispose()
    return counts


def main() -> None:
    parser = database_arguments(__doc__)
    parser.add_argument("--residents", type=int, default=300_000)
    parser.add_argument("--cases", type=int, default=60_000)
    parser.add_argument("--diary", type=int, default=1_500_000)
    parser.add_argument("--appointments", type=int, default=100_000)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 12, 1),
                        help="the day after the last day of data (default 2026-12-01)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    began = time.perf_counter()
    print("migrating…", file=sys.stderr)
    upgrade_sync(args.database_url)
    counts = asyncio.run(generate(args.database_url, residents=args.residents, cases=args.cases, diary=args.diary,
                                  appointments=args.appointments, end=args.end, seed=args.seed))
    counts["seconds"] = round(time.perf_counter() - began)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
