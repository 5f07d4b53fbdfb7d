"""Time the retention job alone (docs/privacy.md): purge two months of
raw inbound updates and sent outbox texts, of which half are older than
``RETENTION_DAYS``, and meanwhile time a short write that stands for an
update being handled (SQLite has one writer: the purge must not block it).

    .venv/bin/python -m benchmarks.retention --database-url sqlite+aiosqlite:////tmp/retention.db
    .venv/bin/python -m benchmarks.retention --database-url postgresql+asyncpg://postgres@127.0.0.1/bench

The database is migrated and emptied of inbound updates and outbox rows
first.  Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import time
from datetime import timedelta

from sqlalchemy import delete, insert, update

from bot.services.privacy import purge_expired
from models import InboundStatus, InboundUpdate, OutboxKind, OutboxMessage, OutboxStatus, utcnow
from models.database import create_engine, create_sessionmaker, upgrade

PAYLOAD = ('{"update_id":%d,"message":{"message_id":1,"from":{"id":7000000040,"first_name":"王桂芝"},'
           '"chat":{"id":7000000040,"type":"private"},"date":1764900000,"text":"楼道灯坏了，麻烦来看看"}}')


async def _fill(sessionmaker, rows: int) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    async with sessionmaker() as s:
        await s.execute(delete(InboundUpdate))
        await s.execute(delete(OutboxMessage))
        await s.commit()
    for start in range(0, rows, 5000):
        batch = range(start, min(start + 5000, rows))
        def age(i: int) -> timedelta:  # spread over 60 days
            return timedelta(days=60 * i / rows)

        async with sessionmaker() as s:
            await s.execute(insert(InboundUpdate), [
                {"bot_id": 1, "update_id": i, "chat_id": 7000000040, "payload": PAYLOAD % i,
                 "status": InboundStatus.done, "attempts": 1, "received_at": now - age(i)} for i in batch])
            await s.execute(insert(OutboxMessage), [
                {"user_id": None, "chat_id": 7000000040, "kind": OutboxKind.case_update,
                 "payload": {"text": "您的诉求 DC-2026-000001 已受理"}, "dedupe_key": f"bench-{i}",
                 "status": OutboxStatus.sent, "created_at": now - age(i)} for i in batch])
            await s.commit()


async def _writer(sessionmaker, stop: asyncio.Event, latencies: list[float]) -> None:  # type: ignore[no-untyped-def]
    while not stop.is_set():
        started = time.perf_counter()
        async with sessionmaker() as s:
            await s.execute(update(InboundUpdate).where(InboundUpdate.id == -1).values(attempts=0))
            await s.commit()
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--rows", type=int, default=200_000, help="inbound updates and outbox rows each")
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    await upgrade(args.database_url)
    engine = create_engine(args.database_url)
    sessionmaker = create_sessionmaker(engine)
    await _fill(sessionmaker, args.rows)
    stop, latencies = asyncio.Event(), []  # type: ignore[var-annotated]
    writer = asyncio.create_task(_writer(sessionmaker, stop, latencies))
    started = time.perf_counter()
    result = await purge_expired(sessionmaker, args.days, utcnow())
    seconds = time.perf_counter() - started
    stop.set()
    await writer
    await engine.dispose()
    latencies.sort()
    print(json.dumps({
        "backend": args.database_url.split(":", 1)[0], "rows_each": args.rows,
        "inbound_deleted": result.inbound_deleted, "outbox_cleared": result.outbox_cleared,
        "seconds": round(seconds, 2),
        "rows_per_second": round((result.inbound_deleted + result.outbox_cleared) / seconds),
        "concurrent_write_ms": {"n": len(latencies), "median": round(statistics.median(latencies) * 1000, 1),
                                "max": round(latencies[-1] * 1000, 1)},
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
    }, ensure_ascii=False))


if __name__ == "__main__":
    asyncio.run(main())
