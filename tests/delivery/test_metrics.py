"""The delivery engine's metrics: sends by outcome, 429 pauses, job runs and their
lateness, broadcast progress (read from the outbox when scraped)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from prometheus_client.parser import text_string_to_metric_families

from bot.config import Settings
from bot.delivery.scheduler import Scheduler
from bot.jobs import JobContext, RecurringJob
from bot.metrics import Metrics, Probes
from tests.delivery.conftest import (
    delivery_settings,
    make_recipients,
    queue,
    queue_broadcast,
    settled,
    wait_rows,
)


def scrape(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(metrics.render().decode()) for s in family.samples}


async def test_sends_are_counted_by_outcome(db_url, sessionmaker, emulator, senders):
    settings = delivery_settings(emulator, db_url, DELIVERY_MAX_ATTEMPTS=2, DELIVERY_CHAT_RATE=20)
    users = await make_recipients(sessionmaker, emulator, 5)
    fine, limited, blocked, broken, _ = users
    emulator.faults.inject(method="sendMessage", kind="429", retry_after=1, times=1, chat_id=limited.telegram_id)
    emulator.block(blocked.telegram_id)
    emulator.faults.inject(method="sendMessage", kind="5xx", status=502, times=None, chat_id=broken.telegram_id)
    metrics = Metrics()
    running = await senders(sessionmaker, settings)
    running.sender.metrics = metrics  # before anything is queued
    await queue(sessionmaker, users)
    await wait_rows(sessionmaker, settled, timeout=20)
    await running.stop()
    got = scrape(metrics)
    assert got[("gridbot_sends_total", (("outcome", "sent"),))] == 3  # fine, limited (after the pause), the fifth
    assert got[("gridbot_sends_total", (("outcome", "429"),))] == 1
    assert got[("gridbot_sends_total", (("outcome", "403"),))] == 1
    assert got[("gridbot_sends_total", (("outcome", "5xx"),))] == 2  # DELIVERY_MAX_ATTEMPTS
    assert got[("gridbot_send_pauses_total", ())] == 1
    assert got[("gridbot_send_pause_seconds_total", ())] == 1


async def test_broadcast_progress_and_outbox_depth_are_read_when_scraped(db_url, sessionmaker, emulator):
    broadcast_id = await queue_broadcast(sessionmaker, await make_recipients(sessionmaker, emulator, 4))
    metrics = Metrics()
    engine = sessionmaker.kw["bind"]
    await Probes(metrics, engine, Settings(_env_file=None, DATABASE_URL=db_url)).refresh()
    got = scrape(metrics)
    assert got[("gridbot_broadcast_rows", (("broadcast", str(broadcast_id)), ("status", "pending")))] == 4
    assert got[("gridbot_outbox_rows", (("status", "pending"),))] == 4
    assert got[("gridbot_outbox_rows", (("status", "sending"),))] == 0
    assert got[("gridbot_inbound_pending_rows", ())] == 0


async def test_job_runs_and_lateness(db_url, sessionmaker):
    sh = ZoneInfo("Asia/Shanghai")
    due = datetime(2026, 12, 1, 18, tzinfo=sh).astimezone(UTC)
    clock = {"now": due - timedelta(hours=2)}

    async def nudge(ctx: JobContext) -> None:
        return None

    async def broken(ctx: JobContext) -> None:
        raise RuntimeError("boom")

    registry = {"nudge": RecurringJob("nudge", nudge, at=time(18, 0)),
                "broken": RecurringJob("broken", broken, at=time(18, 0))}
    scheduler = Scheduler(sessionmaker, Settings(_env_file=None, DATABASE_URL=db_url), registry=registry,
                          owner="m", clock=lambda: clock["now"])
    scheduler.metrics = metrics = Metrics()
    await scheduler.run_due()  # first sight: a baseline, nothing runs
    clock["now"] = due + timedelta(seconds=90)
    await scheduler.run_due()
    got = scrape(metrics)
    assert got[("gridbot_job_runs_total", (("job", "nudge"), ("status", "done")))] == 1
    assert got[("gridbot_job_runs_total", (("job", "broken"), ("status", "failed")))] == 1
    assert got[("gridbot_job_lateness_seconds_sum", (("job", "nudge"),))] == 90
    assert got[("gridbot_job_lateness_seconds_bucket", (("job", "nudge"), ("le", "60.0")))] == 0
    assert got[("gridbot_job_lateness_seconds_bucket", (("job", "nudge"), ("le", "300.0")))] == 1
