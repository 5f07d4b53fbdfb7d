"""The access log alone: what one logged access adds to an update's transaction,
and reading a scope's page from a big log.

    .venv/bin/python -m benchmarks.access_log [--n 2000] [--rows 200000] [--database-url URL]

* write: ``--n`` transactions that each do what an update does around a logged
  access (one small UPDATE standing for the done-mark, then commit), with and
  without one ``audit.record`` (one INSERT) before the commit; rounds alternate.
* call: ``audit.record`` alone, inside an open transaction (no commit).
* batch: ``audit.record_phones`` of 20 residents (an agenda) in one INSERT.
* read: ``audit.read_log`` for a community's staff (first and 100th page) over a
  log of ``--rows`` rows spread over 30 communities.

Default database: a fresh SQLite file.  Results are printed as one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time

from sqlalchemy import insert, update

from benchmarks.scratch import bench_database
from bot.services import audit
from models import (
    AccessAction,
    AccessLog,
    Community,
    District,
    Role,
    RoleGrant,
    ScopeType,
    User,
    utcnow,
)


async def _setup(sessionmaker):  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        district = District(code="BD", names={"en": "Bench"})
        s.add(district)
        await s.flush()
        communities = [Community(code=f"BC{i}", district_id=district.id, names={"en": f"C{i}"}) for i in range(30)]
        s.add_all(communities)
        await s.flush()
        staff = User(telegram_id=1, first_name="staff", registered_at=utcnow(), roles=[])
        resident = User(telegram_id=2, first_name="resident", phone="13900000000", registered_at=utcnow(), roles=[])
        s.add_all([staff, resident])
        await s.flush()
        s.add(RoleGrant(user_id=staff.id, role=Role.staff, scope_type=ScopeType.community,
                        scope_id=communities[0].id))
        await s.commit()
        return staff.id, resident.id, [c.id for c in communities]


async def _round(sessionmaker, n: int, staff_id: int, resident_id: int, community_id: int, log: bool) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for i in range(n):
        async with sessionmaker() as s:
            await s.execute(update(User).where(User.id == staff_id).values(unreachable=False))
            if log:
                await audit.record(s, AccessAction.phone_viewed, actor_id=staff_id, subject_id=resident_id,
                                   place=audit.Place(community_id), object_type="case", object_id=i + 1)
            await s.commit()
    return (time.perf_counter() - start) / n * 1e6


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--database-url")
    args = p.parse_args()
    async with bench_database(args.database_url) as (engine, sessionmaker):
        staff_id, resident_id, communities = await _setup(sessionmaker)

        plain, logged = [], []
        for _ in range(args.rounds):
            plain.append(await _round(sessionmaker, args.n, staff_id, resident_id, communities[0], False))
            logged.append(await _round(sessionmaker, args.n, staff_id, resident_id, communities[0], True))

        calls = []
        async with sessionmaker() as s:
            await s.execute(update(User).where(User.id == staff_id).values(unreachable=False))  # the transaction begun
            for k in range(args.n):
                start = time.perf_counter()
                await audit.record(s, AccessAction.phone_viewed, actor_id=staff_id, subject_id=resident_id,
                                   place=audit.Place(communities[0]), object_type="case", object_id=k)
                calls.append((time.perf_counter() - start) * 1e6)
            await s.rollback()

        batch = []
        for _ in range(200):
            async with sessionmaker() as s:
                start = time.perf_counter()
                await audit.record_phones(s, actor_id=staff_id, place=audit.Place(communities[0]),
                                          shown=[(resident_id, "appointment", k) for k in range(20)])
                batch.append((time.perf_counter() - start) * 1e6)
                await s.rollback()

        async with sessionmaker() as s:
            now = utcnow()
            chunk = 10_000
            for offset in range(0, args.rows, chunk):
                await s.execute(insert(AccessLog), [
                    dict(at=now, actor_id=staff_id, action=AccessAction.phone_viewed, subject_id=resident_id,
                         object_type="case", object_id=k, detail="", community_id=communities[k % 30], district_id=None)
                    for k in range(offset, min(offset + chunk, args.rows))])
            await s.commit()
            staff = await s.get(User, staff_id)
            reads = {}
            for page in (0, 99):
                times = []
                for _ in range(20):
                    start = time.perf_counter()
                    await audit.read_log(s, staff, page=page)
                    times.append((time.perf_counter() - start) * 1e3)
                reads[f"read_page_{page}_ms"] = round(statistics.median(times), 2)
    print(json.dumps({
        "database": engine.dialect.name, "machine": f"{platform.processor() or platform.machine()}, "
                                                    f"Python {platform.python_version()}",
        "n": args.n, "rounds": args.rounds,
        "update_without_log_us": round(statistics.median(plain), 1),
        "update_with_log_us": round(statistics.median(logged), 1),
        "added_per_logged_access_us": round(statistics.median(logged) - statistics.median(plain), 1),
        "record_call_alone_us": round(statistics.median(calls), 1),
        "agenda_of_20_insert_us": round(statistics.median(batch), 1),
        "log_rows": args.rows, **reads,
    }, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
