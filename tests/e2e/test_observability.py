"""Observability: /healthz, /readyz and /metrics of a running bot (parsed with
prometheus-client's own parser), structured logs that name no one, and a
readiness that tells why it is not ready."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.app import GridBotApp
from bot.config import Settings
from bot.logs import chat_hasher, setup_logging
from bot.metrics import Metrics, Probes, send_outcome
from models.database import create_engine, migration_heads
from tests.cluster import free_port, http_get, scrape
from tests.conftest import BOT_TOKEN
from tests.e2e.conftest import make_settings
from tests.e2e.harness import start_bot


async def test_webhook_serves_health_readiness_and_metrics(emulator, db_url, demo_sessionmaker):
    port = free_port()
    settings = make_settings(emulator, db_url, WEBHOOK_URL=f"http://127.0.0.1:{port}/tg/webhook",
                             WEBHOOK_SECRET="s3cret-token", WEBHOOK_LISTEN_PORT=port)
    app = GridBotApp.create(settings, token=BOT_TOKEN)
    task = asyncio.create_task(app.run())
    base = f"http://127.0.0.1:{port}"
    try:
        await emulator.wait_for(lambda: emulator.webhook_url() is not None, 15)
        assert await http_get(f"{base}/healthz") == (200, "ok\n")
        status, body = await http_get(f"{base}/readyz")
        assert status == 200 and json.loads(body) == {"database": "ok", "schema": "ok"}

        user = emulator.create_user(first_name="度量")
        last = None
        for word in ("/start", "hello", "again"):
            last = await emulator.send_text(user, word)
        await app.pipeline.wait_handled(last.update_id)
        picker = emulator.messages(user.id)[0]
        press = await emulator.press_button(user, picker.message_id, picker.inline_buttons[0][0][1])
        await app.pipeline.wait_handled(press.update_id)

        status, body = await http_get(f"{base}/metrics")
        assert status == 200
        got = scrape(body)
        message = (("type", "message"),)
        assert got[("gridbot_updates_received_total", message)] == 3
        assert got[("gridbot_updates_handled_total", message)] == 3
        assert got[("gridbot_updates_handled_total", (("type", "callback_query"),))] == 1
        assert ("gridbot_updates_failed_total", message) not in got
        assert got[("gridbot_update_handling_seconds_count", message)] == 3
        assert got[("gridbot_update_handling_seconds_bucket", (("le", "+Inf"), ("type", "message")))] == 3
        assert got[("gridbot_inbound_pending_rows", ())] == 0
        assert got[("gridbot_inbound_queued_updates", ())] == 0
        assert got[("gridbot_metrics_database_up", ())] == 1
        assert got[("gridbot_outbox_rows", (("status", "pending"),))] >= 0
    finally:
        app.request_stop()
        await asyncio.wait_for(task, 15)
        await app.close()


def _json_lines(buffer: io.StringIO) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]


@pytest.fixture
def captured_root():  # type: ignore[no-untyped-def]
    """setup_logging() replaces the root logger's handlers: put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


async def test_json_logs_and_metrics_port_in_polling_mode(emulator, db_url, demo_sessionmaker, captured_root):
    port = free_port()
    settings = make_settings(emulator, db_url, LOG_FORMAT="json", METRICS_PORT=port)
    buffer = io.StringIO()
    setup_logging(settings, stream=buffer)
    running = await start_bot(emulator, settings, BOT_TOKEN)
    try:
        user = emulator.create_user(first_name="日志")
        secret_words = "我家水管漏了 secret-words-7731"
        for word in ("/start", secret_words):
            action = await emulator.send_text(user, word)
        await running.app.pipeline.wait_handled(action.update_id)
        # The token in an error (aiohttp quotes the URL) is replaced before it is written.
        logging.getLogger("bot.test").error("GET %s/bot%s/getMe failed", emulator.base_url, BOT_TOKEN)
        try:
            raise RuntimeError(f"lost https://api.telegram.org/bot{BOT_TOKEN}/sendMessage")
        except RuntimeError:
            logging.getLogger("bot.test").exception("request failed")

        status, body = await http_get(f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        assert scrape(body)[("gridbot_updates_handled_total", (("type", "message"),))] == 2
        assert await http_get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        assert (await http_get(f"http://127.0.0.1:{port}/readyz"))[0] == 200
    finally:
        await running.stop()

    raw = buffer.getvalue()
    events = _json_lines(buffer)  # every line is one JSON event
    assert events and all({"ts", "level", "logger", "msg"} <= set(e) for e in events)
    handled = {e["update_id"]: e for e in events if e.get("logger") == "bot.updates"}
    mine = handled[action.update_id]
    assert mine["chat"] == chat_hasher(settings)(user.id) and mine["type"] == "message"
    assert mine["outcome"] == "handled" and isinstance(mine["duration_ms"], float)
    # Never the token, a message's text or a chat id in clear.
    assert BOT_TOKEN not in raw and BOT_TOKEN.split(":")[1] not in raw
    assert "<BOT_TOKEN>" in raw
    assert "secret-words" not in raw and "水管" not in raw
    assert str(user.id) not in raw


def test_chat_hash_is_keyed():
    """Without the key, hashing every possible id finds nothing: the hash depends on it."""
    base = {"_env_file": None, "BOT_TOKEN": BOT_TOKEN}
    plain = chat_hasher(Settings(**base))
    other_token = chat_hasher(Settings(**{**base, "BOT_TOKEN": "123456789:ANOTHER-token"}))
    keyed = chat_hasher(Settings(**base, LOG_HASH_KEY="k" * 32))
    assert plain(42) == plain(42) and len(plain(42)) == 16
    assert len({plain(42), other_token(42), keyed(42)}) == 3
    assert "42" not in plain(42)


def test_each_app_has_its_own_registry():
    first, second = Metrics(), Metrics()
    first.sent("sent", None)
    assert first.sends.labels("sent")._value.get() == 1
    assert second.sends.labels("sent")._value.get() == 0


@pytest.mark.parametrize(("outcome", "error", "label"), [
    ("sent", None, "sent"), ("rate_limited", "429: Too Many Requests", "429"),
    ("blocked", "403: Forbidden", "403"), ("failed", "400: Bad Request", "400"),
    ("retry", "502: Bad Gateway", "5xx"), ("retry", "ClientConnectorError: refused", "network"),
    ("retry", "401: Unauthorized", "other"), ("unknown", "TimeoutError: ", "unknown"),
])
def test_send_outcome_labels(outcome, error, label):
    assert send_outcome(outcome, error) == label


async def test_readiness_tells_what_is_wrong(tmp_path: Path, sqlite_template):
    settings = Settings(_env_file=None, BOT_TOKEN=BOT_TOKEN)
    # No database server at all.
    engine = create_engine(f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/nothing")
    ok, checks = await Probes(Metrics(), engine, settings).ready()
    await engine.dispose()
    assert not ok and checks["database"].startswith("unreachable")

    # A database never migrated: behind.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    ok, checks = await Probes(Metrics(), engine, settings).ready()
    await engine.dispose()
    assert not ok and checks["schema"].startswith("behind: empty")

    # Migrated by a newer version (a rolling upgrade under way): still ready.
    path = tmp_path / "newer.db"
    path.write_bytes(sqlite_template.read_bytes())
    engine = create_engine(f"sqlite+aiosqlite:///{path}")
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'zz99'"))
    ok, checks = await Probes(Metrics(), engine, settings).ready()
    assert ok and checks == {"database": "ok", "schema": "newer: zz99"}

    # Redis configured but away.
    with_redis = Settings(_env_file=None, BOT_TOKEN=BOT_TOKEN, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    probes = Probes(Metrics(), engine, with_redis)
    ok, checks = await probes.ready()
    await probes.close()
    await engine.dispose()
    assert not ok and checks["redis"].startswith("unreachable")
    assert migration_heads()[0] <= migration_heads()[1]
