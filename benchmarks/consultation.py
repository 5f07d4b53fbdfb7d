"""A residents' consultation asked of a whole community: queueing it, answering, closing it.

    .venv/bin/python -m benchmarks.consultation [--residents 20000] [--answers 2000] [--database-url URL]

* ask: ``consultations.create`` for a community of ``--residents`` registered residents
  (scope check, recipient query, one recipient row and one outbox row each, bulk) and
  the commit, timed once.
* answer: ``--answers`` residents each answer in their own transaction (one in ten then
  changes it), as a button press does; the median and 95th percentile per answer.
* close: ``consultations.close_due`` at the closing time (erase the salt, count, one
  result row per resident asked, bulk) and the commit, timed once.

Default database: a fresh SQLite file.  Results are printed as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from datetime import timedelta

from sqlalchemy import func, insert, select

from benchmarks.scratch import bench_database
from bot.config import Settings
from bot.services import broadcasts, consultations
from models import (
    BroadcastScope,
    Building,
    Community,
    District,
    Grid,
    OutboxMessage,
    Role,
    RoleGrant,
    ScopeType,
    User,
    utcnow,
)

GRIDS, BUILDINGS = 10, 10  # per community, per grid


async def _setup(sessionmaker, residents: int) -> tuple[int, int, list[int]]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        district = District(code="BD", names={"en": "Bench"})
        s.add(district)
        await s.flush()
        community = Community(code="BC", district_id=district.id, names={"en": "Community"})
        s.add(community)
        await s.flush()
        buildings: list[Building] = []
        for g in range(GRIDS):
            grid = Grid(code=f"BC-{g:02}", community_id=community.id, names={"en": f"Grid {g}"})
            s.add(grid)
            await s.flush()
            for b in range(BUILDINGS):
                building = Building(code=f"BC-{g:02}-{b:02}", grid_id=grid.id, names={"en": f"B{b}"})
                s.add(building)
                buildings.append(building)
        await s.flush()
        staff = User(telegram_id=1, first_name="staff", registered_at=utcnow(), roles=[])
        s.add(staff)
        await s.flush()
        s.add(RoleGrant(user_id=staff.id, role=Role.staff, scope_type=ScopeType.community, scope_id=community.id))
        now = utcnow()
        for offset in range(0, residents, 10_000):
            await s.execute(insert(User), [
                dict(telegram_id=10_000 + k, first_name=f"r{k}", locale=("zh-Hans", "zh-Hant", "en")[k % 3],
                     building_id=buildings[k % len(buildings)].id, grid_id=buildings[k % len(buildings)].grid_id,
                     registered_at=now, unreachable=False, created_at=now)
                for k in range(offset, min(offset + 10_000, residents))])
        await s.commit()
        ids = list(await s.scalars(select(User.id).where(User.telegram_id >= 10_000).order_by(User.id)))
        return staff.id, community.id, ids


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--residents", type=int, default=20_000)
    p.add_argument("--answers", type=int, default=2_000)
    p.add_argument("--database-url")
    args = p.parse_args()
    async with bench_database(args.database_url) as (engine, sessionmaker):
        settings = Settings(_env_file=None)
        staff_id, community_id, residents = await _setup(sessionmaker, args.residents)

        now = utcnow()
        start = time.perf_counter()
        async with sessionmaker() as s:
            staff = await s.get(User, staff_id)
            c = await consultations.create(s, settings, staff, ref=broadcasts.ScopeRef(BroadcastScope.community,
                                                                                      community_id),
                                           question="Close the east gate at night?", choices=["Yes", "No", "Either"],
                                           closes_at=now + timedelta(days=3), now=now)
            await s.commit()
            cid = c.id
        ask_s = time.perf_counter() - start

        per_answer = []
        for k, uid in enumerate(residents[:args.answers]):
            async with sessionmaker() as s:
                user = await s.get(User, uid)
                started = time.perf_counter()
                await consultations.answer(s, user, cid, k % 3, now)
                if k % 10 == 0:
                    await consultations.answer(s, user, cid, (k + 1) % 3, now)
                await s.commit()
                per_answer.append((time.perf_counter() - started) * 1000)

        start = time.perf_counter()
        async with sessionmaker() as s:
            closed = await consultations.close_due(s, settings, now + timedelta(days=3))
            await s.commit()
        close_s = time.perf_counter() - start
        async with sessionmaker() as s:
            results = int(await s.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.dedupe_key.like(f"cq:{cid}:r:%"))) or 0)
    per_answer.sort()
    print(json.dumps({
        "database": engine.url.drivername, "python": platform.python_version(), "residents": args.residents,
        "ask_s": round(ask_s, 3), "answers": len(per_answer),
        "answer_ms_median": round(statistics.median(per_answer), 2) if per_answer else None,
        "answer_ms_p95": round(per_answer[int(len(per_answer) * 0.95) - 1], 2) if per_answer else None,
        "close_s": round(close_s, 3), "closed": closed, "result_rows": results,
    }, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
