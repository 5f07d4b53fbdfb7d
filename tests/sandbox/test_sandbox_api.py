"""The sandbox without a browser: the page is served, personas come from the
database, a new resident registers through the same HTTP API the page uses,
the clock control moves the bot's time, and a restart picks up where it left."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select

from bot.app import GridBotApp
from bot.sandbox.personas import KIND_ORDER
from bot.sandbox.runner import Sandbox
from bot.services.notify import notify
from models import (
    UNIT_FACTOR,
    Building,
    Community,
    OutboxKind,
    Role,
    RoleGrant,
    ScopeType,
    User,
    utcnow,
)
from models.base import clock_offset, on_clock_change
from tests.sandbox.conftest import sandbox_settings

ASSETS = {
    "/static/app.js": "javascript",
    "/static/app.css": "text/css",
    "/static/i18n.js": "javascript",
    "/static/icon.svg": "image/svg+xml",
}


async def _json(response: aiohttp.ClientResponse) -> Any:
    assert response.status == 200, f"{response.status}: {await response.text()}"
    return await response.json()


class Chat:
    """What the page does for one persona, over HTTP only."""

    def __init__(self, http: aiohttp.ClientSession, telegram_id: int) -> None:
        self.http = http
        self.id = telegram_id
        self.version = 0
        self.messages: dict[int, dict[str, Any]] = {}

    async def wait_bot(self, predicate, timeout: float = 10.0) -> dict[str, Any]:  # type: ignore[no-untyped-def]
        """Long-poll the chat until a (non-deleted) bot message matches ``predicate``."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in sorted(self.messages.values(), key=lambda m: m["message_id"]):
                if msg["from_bot"] and not msg["deleted"] and predicate(msg):
                    return msg
            left = deadline - time.monotonic()
            assert left > 0, f"no such bot message; have {[m.get('text') for m in self.messages.values()]}"
            async with self.http.get(
                f"/_emu/chats/{self.id}/wait", params={"since_version": self.version, "timeout": f"{left:.1f}"}
            ) as r:
                data = await _json(r)
            self.version = max(self.version, data["version"])
            for msg in data["messages"]:
                self.messages[msg["message_id"]] = msg

    async def send(self, text: str) -> dict[str, Any]:
        async with self.http.post(f"/_emu/users/{self.id}/text", json={"text": text}) as r:
            return await _json(r)

    async def tap(self, label: str) -> dict[str, Any]:
        """Press the inline button containing ``label``; returns the bot's answer."""
        msg = await self.wait_bot(lambda m: any(label in b[0] for row in m["inline_buttons"] for b in row))
        data = next(b[1] for row in msg["inline_buttons"] for b in row if label in b[0])
        async with self.http.post(
            f"/_emu/users/{self.id}/callback", json={"message_id": msg["message_id"], "data": data}
        ) as r:
            action = await _json(r)
        async with self.http.get(f"/api/callbacks/{action['callback_query_id']}", params={"timeout": "10"}) as r:
            return await _json(r)

    def reply_keyboard(self) -> list[dict[str, Any]]:
        current: list[dict[str, Any]] = []
        for msg in sorted(self.messages.values(), key=lambda m: m["message_id"]):
            markup = msg["reply_markup"] or {}
            if msg["from_bot"] and "keyboard" in markup:
                current = [b if isinstance(b, dict) else {"text": b} for row in markup["keyboard"] for b in row]
            elif msg["from_bot"] and markup.get("remove_keyboard"):
                current = []
        return current


async def test_page_and_assets_are_served_from_this_server(sandbox: Sandbox, http) -> None:
    async with http.get("/") as r:
        assert r.status == 200 and r.content_type == "text/html"
        page = await r.text()
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    for path, kind in ASSETS.items():
        assert f'"{path}"' in page
        async with http.get(path) as r:
            assert r.status == 200, path
            assert kind in r.content_type, (path, r.content_type)
            assert len(await r.read()) > 100
    # Nothing in the page or its scripts points at another host.
    for path in ["/", *ASSETS]:
        async with http.get(path) as r:
            body = await r.text()
        found = re.findall(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", body)
        assert not found, (path, found)
        assert "@import" not in body and "url(http" not in body
    # The strings table has every key in every language.
    async with http.get("/static/i18n.js") as r:
        table = json.loads((await r.text()).split("window.SANDBOX_STRINGS = ", 1)[1].rstrip().rstrip(";"))
    assert set(table) == {"zh-Hans", "zh-Hant", "en"}
    assert set(table["zh-Hant"]) == set(table["zh-Hans"]) == set(table["en"])
    # ...and every key the page uses.
    async with http.get("/static/app.js") as r:
        script = await r.text()
    page_kinds = re.search(r"const KIND_ORDER = \[([^\]]*)\]", script).group(1)
    assert tuple(re.findall(r"'([a-z_]+)'", page_kinds)) == KIND_ORDER  # the page groups every kind listed
    used = set(re.findall(r"\bt\('([a-z_0-9]+)'", script)) - {"group_", "role_"}  # + kind, + role
    used |= set(re.findall(r'data-i18n(?:-placeholder|-aria)?="([a-z_0-9]+)"', page))
    used |= {f"group_{k}" for k in KIND_ORDER}
    used |= {f"role_{r.value}" for r in Role}
    assert len(used) > 60 and used <= set(table["zh-Hans"]), used - set(table["zh-Hans"])
    # Static files stay inside their folder.
    async with http.get("/static/../runner.py") as r:
        assert r.status in (403, 404)
    async with http.get("/static/%2e%2e/runner.py") as r:
        assert r.status in (403, 404)
    async with http.get("/api/info") as r:
        info = await _json(r)
    assert info["bot"]["username"] == "gridbot_sandbox_bot" and info["tz"] == "Asia/Shanghai"
    assert info["clock"]["offset_seconds"] == 0


async def test_personas_come_from_the_database(sandbox: Sandbox, http) -> None:
    async with http.get("/api/personas") as r:
        data = await _json(r)
    by_id = {p["telegram_id"]: p for p in data["personas"]}
    assert set(by_id) == set(range(7000000001, 7000000046))
    assert by_id[7000000001]["kind"] == "admin"
    assert by_id[7000000002]["kind"] == "staff" and by_id[7000000002]["roles"][0]["scope_code"] == "DC-XS"
    worker = by_id[7000000014]
    assert worker["kind"] == "worker" and worker["first_name"] == "张伟"
    assert worker["roles"] == [{"role": "worker", "scope_type": "grid", "scope_code": "DC-XS-01",
                                "scope_names": worker["roles"][0]["scope_names"]}]
    assert worker["roles"][0]["scope_names"]["zh-Hans"] == "新站社区第一网格"
    assert by_id[7000000013]["kind"] == "grid_head"
    assert by_id[7000000005]["kind"] == "department"
    resident = by_id[7000000040]
    assert resident["kind"] == "resident" and resident["home"]["building_code"] == "DC-XS-01-02"
    # Who serves whom (issue 20): her grid's workers and head by name; theirs, how many residents.
    assert {"张伟", "王芳", "李红霞"} <= set(resident["served_by"]) and resident["serves"] is None
    assert worker["serves"] >= 1 and worker["served_by"] == []
    assert by_id[7000000013]["serves"] == worker["serves"]  # the head of the same grid
    assert by_id[7000000001]["serves"] is None
    kinds = [p["kind"] for p in data["personas"]]
    assert kinds.index("resident") < kinds.index("worker") < kinds.index("admin")  # the page's order
    assert data["residents_total"] == 6

    # An organisation changed in the database (an import, an invite) shows as it is there.
    async with sandbox.sessionmaker() as s:
        xs = await s.scalar(select(Community).where(Community.code == "DC-XS"))
        s.add(User(telegram_id=8100000001, first_name="钱多多", locale="zh-Hans", registered_at=utcnow(),
                   roles=[RoleGrant(role=Role.staff, scope_type=ScopeType.community, scope_id=xs.id)]))
        await s.commit()
    async with http.get("/api/personas") as r:
        data = await _json(r)
    added = next(p for p in data["personas"] if p["telegram_id"] == 8100000001)
    assert added["kind"] == "staff" and added["roles"][0]["scope_names"]["zh-Hans"] == "新站社区"
    # The district's own organisation (issue 17): a building head, a unit head and a volunteer
    # are listed under their own kinds (a person the list could not place stopped the sandbox).
    async with sandbox.sessionmaker() as s:
        building = await s.scalar(select(Building).where(Building.code == "DC-XS-01-02"))
        for tg, role, scope_type, scope_id in (
                (8100000002, Role.building_head, ScopeType.building, building.id),
                (8100000003, Role.unit_head, ScopeType.unit, building.id * UNIT_FACTOR + 2),
                (8100000004, Role.volunteer, ScopeType.community, xs.id)):
            s.add(User(telegram_id=tg, first_name=role.value, locale="zh-Hans", registered_at=utcnow(),
                       roles=[RoleGrant(role=role, scope_type=scope_type, scope_id=scope_id)]))
        await s.commit()
    async with http.get("/api/personas") as r:
        data = await _json(r)
    org = {p["telegram_id"]: p for p in data["personas"] if 8100000002 <= p["telegram_id"] <= 8100000004}
    assert [org[tg]["kind"] for tg in sorted(org)] == ["building_head", "unit_head", "volunteer"]
    assert org[8100000003]["roles"][0]["scope_code"] == "DC-XS-01-02/2"
    assert [k for k in dict.fromkeys(p["kind"] for p in data["personas"])] == [
        k for k in KIND_ORDER if k in {p["kind"] for p in data["personas"]}]

    # Everyone listed has a Telegram account in the emulator from the start, in
    # their language, so the bot can reach a worker whose tab was never opened.
    assert sandbox.emulator.user(7000000042).language_code == "zh-hant"
    assert sandbox.emulator.user(7000000044).language_code == "en"
    async with http.post("/api/personas/7000000042/open", json={}) as r:
        opened = await _json(r)
    assert opened["first_name"] == "陈美玲" and opened["language_code"] == "zh-hant"
    # Someone who came into the database later gets one when first opened.
    assert 8100000001 not in sandbox.emulator.state.users
    async with http.post("/api/personas/8100000001/open", json={"language_code": "en"}) as r:
        assert (await _json(r))["language_code"] == "zh-hans"  # their own locale wins over the page's
    assert sandbox.emulator.user(8100000001).first_name == "钱多多"
    async with http.post("/api/personas/7999999999/open", json={}) as r:
        assert r.status == 404
    async with http.post("/api/personas/abc/open", json={}) as r:
        assert r.status in (400, 404)


async def test_new_resident_registers_through_the_page_api(make_sandbox, db_url: str) -> None:
    sandbox: Sandbox = await make_sandbox(db_url)
    async with aiohttp.ClientSession(base_url=sandbox.url) as http:
        async with http.post("/api/personas", json={"first_name": " ", "language_code": "zh-hans"}) as r:
            assert r.status == 400
        async with http.post("/api/personas", json={"first_name": "王秀英", "language_code": "zh-hans"}) as r:
            me = await _json(r)
        assert me["kind"] == "unregistered" and me["telegram_id"] >= 100_000_001
        chat = Chat(http, me["telegram_id"])

        await chat.send("/start")  # her Telegram speaks Chinese: the welcome, no language question
        await chat.wait_bot(lambda m: "👋" in (m["text"] or ""))
        await chat.tap("✅ 同意")  # the privacy notice
        await chat.tap("📋")  # choose from the lists
        await chat.tap("新站")
        await chat.tap("第一网格")
        answer = await chat.tap("1号楼")
        assert answer == {"answered": True, "text": "已保存", "show_alert": False, "url": None}
        await chat.wait_bot(lambda m: "✅ 您的住址" in (m["text"] or ""))
        # The notice was edited in place once agreed: the page sees the edit.
        agreed = await chat.wait_bot(lambda m: "您已同意隐私说明" in (m["text"] or ""))
        assert agreed["edits"] == 1

        await chat.wait_bot(lambda m: "request_contact" in json.dumps(m["reply_markup"]))
        share = next(b for b in chat.reply_keyboard() if b.get("request_contact"))
        assert share["text"] == "📱 分享我的手机号"
        async with http.post(f"/_emu/users/{chat.id}/contact", json={"phone_number": "+8613900000009"}) as r:
            await _json(r)
        await chat.wait_bot(lambda m: "手机号已保存" in (m["text"] or ""))
        await chat.wait_bot(lambda m: any(b["text"] == "👤 我的资料" for b in chat.reply_keyboard()))

        # A forged button gets the bot's alert, which the page shows as a dialog.
        msg = await chat.wait_bot(lambda m: True)
        async with http.post(f"/_emu/users/{chat.id}/callback",
                             json={"message_id": msg["message_id"], "data": "pl:b:999999999"}) as r:
            action = await _json(r)
        async with http.get(f"/api/callbacks/{action['callback_query_id']}") as r:
            alert = await _json(r)
        assert alert["answered"] and alert["show_alert"] and alert["text"]

        async with http.get("/api/personas") as r:
            listed = next(p for p in (await _json(r))["personas"] if p["telegram_id"] == chat.id)
        assert listed["kind"] == "resident" and listed["registered"] and listed["phone"] == "+8613900000009"
        assert listed["home"]["grid"]["zh-Hans"] == "新站社区第一网格"

        async with http.get(f"/api/personas/{chat.id}/commands") as r:
            commands = (await _json(r))["commands"]
        assert {"command": "menu", "description": "主菜单"} in commands

    async with sandbox.sessionmaker() as s:
        user = await s.scalar(select(User).where(User.telegram_id == chat.id))
    assert user.registered_at is not None and user.phone == "+8613900000009" and user.building_id is not None


async def test_clock_control_moves_the_bots_time(sandbox: Sandbox, http, tmp_path) -> None:
    async with http.get("/api/clock") as r:
        before = await _json(r)
    assert before["offset_seconds"] == 0
    for bad in ({"advance_seconds": -60}, {"advance_seconds": 0}, {"advance_seconds": 400 * 86400},
                {"advance_seconds": "soon"}, {}):
        async with http.post("/api/clock", json=bad) as r:
            assert r.status == 400, bad
    async with http.post("/api/clock", json={"advance_seconds": 86400 + 3 * 3600}) as r:
        after = await _json(r)
    assert after["offset_seconds"] == 27 * 3600
    assert clock_offset() == timedelta(hours=27)
    # The bot's "now" (every service reads models.utcnow) moved...
    assert abs((utcnow() - timedelta(hours=27)).timestamp() - time.time()) < 5
    assert after["now_ms"] / 1000 - time.time() > 27 * 3600 - 5
    # ...and so did the dates of messages in the emulator.
    async with http.post("/api/personas/7000000040/open", json={}) as r:
        await _json(r)
    chat = Chat(http, 7000000040)
    await chat.send("/start")
    reply = await chat.wait_bot(lambda m: True)
    assert reply["date"] - time.time() > 27 * 3600 - 5
    # The bot saw the update at the sandbox's time as well.
    async with sandbox.sessionmaker() as s:
        user = await s.scalar(select(User).where(User.telegram_id == 7000000040))
    assert user is not None
    # Remembered for this database, so a restart does not go back in time.
    saved = json.loads((tmp_path / "sandbox-data" / "clock.json").read_text())
    assert list(saved.values()) == [27 * 3600]


async def test_restart_keeps_time_ids_and_answers(make_sandbox, sqlite_url: str) -> None:
    first: Sandbox = await make_sandbox(sqlite_url)
    async with aiohttp.ClientSession(base_url=first.url) as http:
        async with http.post("/api/personas", json={"first_name": "甲"}) as r:
            a = await _json(r)
        chat = Chat(http, a["telegram_id"])
        await chat.send("/start")
        await chat.wait_bot(lambda m: "👋" in (m["text"] or ""))
        async with http.post("/api/clock", json={"advance_seconds": 7200}) as r:
            await _json(r)
    await first.stop()
    assert clock_offset() == timedelta(0)

    second: Sandbox = await make_sandbox(sqlite_url)
    assert clock_offset() == timedelta(hours=2)  # resumed from sandbox-data/clock.json
    async with aiohttp.ClientSession(base_url=second.url) as http:
        # A new resident never reuses a Telegram id the database knows.
        async with http.post("/api/personas", json={"first_name": "乙"}) as r:
            b = await _json(r)
        assert b["telegram_id"] > a["telegram_id"]
        # The first one's chat window is new, but the bot still answers it
        # (update ids continue after those already stored in the database).
        async with http.post(f"/api/personas/{a['telegram_id']}/open", json={}) as r:
            await _json(r)
        chat = Chat(http, a["telegram_id"])
        await chat.send("/start")
        await chat.wait_bot(lambda m: "👋" in (m["text"] or ""))


@pytest.mark.skipif(not hasattr(GridBotApp, "start_delivery"), reason="the delivery engine is not wired in yet")
async def test_clock_jump_wakes_timers_and_delivers_what_became_due(make_sandbox, sqlite_url: str) -> None:
    # No quiet hours, so the reminder goes out whatever the hour the test runs at.
    sandbox: Sandbox = await make_sandbox(sqlite_url, settings=sandbox_settings(QUIET_HOURS=""))
    heard: list[timedelta] = []
    unsubscribe = on_clock_change(heard.append)
    try:
        async with aiohttp.ClientSession(base_url=sandbox.url) as http:
            async with http.post("/api/personas/7000000040/open", json={}) as r:
                await _json(r)
            async with sandbox.sessionmaker() as s:
                user = await s.scalar(select(User).where(User.telegram_id == 7000000040))
                await notify(s, recipient=user, kind=OutboxKind.reminder, dedupe_key="sandbox-test-reminder",
                             text="明天上午九点，网格员上门。", due_at=utcnow() + timedelta(hours=1))
                await s.commit()
            with pytest.raises(TimeoutError):  # not due yet
                await sandbox.emulator.wait_for_message(7000000040, timeout=1.5)
            async with http.post("/api/clock", json={"advance_seconds": 2 * 3600}) as r:
                await _json(r)
            # (The answer comes after the jobs due by then ran: the reminder may be out already.)
            sent = await sandbox.emulator.wait_for(lambda: next(
                (m for m in sandbox.emulator.messages(7000000040) if m.from_bot), None), 10)
            assert sent.text == "明天上午九点，网格员上门。"
            assert sent.date - time.time() > 2 * 3600 - 10
    finally:
        unsubscribe()
    # Everything that sleeps until a due time (the outbox sender, the job
    # scheduler) subscribes to this and was woken by the jump.
    assert heard == [timedelta(hours=2)]


async def test_a_jump_of_days_runs_each_daily_job_per_day_and_the_clock_resets(sandbox: Sandbox, http) -> None:
    """Issue 20: a trainer's jump of three days runs the daily jobs once for every day skipped,
    as those days would have; the clock can then be reset to the real time."""
    from models import JobRun, JobRunStatus

    async def runs() -> set:  # type: ignore[type-arg]
        async with sandbox.sessionmaker() as s:
            return set(await s.scalars(select(JobRun.due_at).where(JobRun.name == "privacy.retention",
                                                                   JobRun.status != JobRunStatus.skipped)))

    await sandbox._run_jobs()  # the scheduler has seen the job once (its first due time is recorded)
    before = await runs()
    async with http.post("/api/clock", json={"advance_seconds": 3 * 86400}) as r:
        jumped = await _json(r)
    assert jumped["offset_seconds"] == 3 * 86400
    ran = sorted((await runs()) - before)
    assert len(ran) == 3 and all(b - a == timedelta(days=1) for a, b in zip(ran, ran[1:], strict=False))
    async with http.post("/api/clock", json={"reset": True}) as r:
        back = await _json(r)
    assert back["offset_seconds"] == 0 and clock_offset() == timedelta(0)
    assert abs(back["now_ms"] / 1000 - time.time()) < 5
