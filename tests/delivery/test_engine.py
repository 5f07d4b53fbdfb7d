"""The sender against the emulator: delivery, 403, 5xx backoff, dead letters,
unknown outcomes, quiet hours, paused broadcasts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.delivery.engine import Sender
from bot.delivery.quiet import in_quiet_hours, quiet_hours_end
from bot.services.notify import notify
from models import OutboxKind, OutboxMessage, OutboxStatus, User, utcnow
from tests.delivery.conftest import (
    delivery_settings,
    make_recipients,
    queue,
    rows,
    settled,
    wait_rows,
)


class _NoTransport:
    async def send(self, row):  # type: ignore[no-untyped-def]
        raise AssertionError("claim-only test")


async def test_delivers_each_row_once_with_buttons_and_media(db_url, sessionmaker, emulator, senders):
    settings = delivery_settings(emulator, db_url)
    users = await make_recipients(sessionmaker, emulator, 6)
    from bot.services.notify import Button

    async with sessionmaker() as s:
        for u in users[:4]:
            await notify(s, recipient=u, kind=OutboxKind.case_update, dedupe_key=f"t:{u.id}",
                         text=f"<b>Case</b> for {u.first_name}", buttons=[[Button("Open", callback_data="c:1")]])
        # The same dedupe key twice is stored once.
        assert not await notify(s, recipient=users[0], kind=OutboxKind.case_update, dedupe_key=f"t:{users[0].id}",
                                text="again")
        await s.commit()
    running = await senders(sessionmaker, settings)
    await emulator.wait_for(lambda: len(emulator.send_log) >= 4, timeout=10)
    # Queued while running: the commit wakes the sender.
    await queue(sessionmaker, users[4:], kind=OutboxKind.reminder, tag="late")
    await emulator.wait_for(lambda: len(emulator.send_log) >= 6, timeout=10)
    await running.stop()
    got = await rows(sessionmaker)
    assert [r.status for r in got] == [OutboxStatus.sent] * 6
    for r in got:
        msgs = emulator.messages(r.chat_id)
        assert len(msgs) == 1 and msgs[0].message_id == r.telegram_message_id
        assert r.attempts == 1 and r.sent_at is not None and r.lease_owner is None
    first = emulator.messages(users[0].telegram_id)[0]
    assert first.text == f"Case for {users[0].first_name}" and first.inline_buttons == [[("Open", "c:1")]]


async def test_403_marks_unreachable_and_is_never_tried_again(db_url, sessionmaker, emulator, senders):
    settings = delivery_settings(emulator, db_url)
    users = await make_recipients(sessionmaker, emulator, 3)
    blocked = users[1]
    emulator.block(blocked.telegram_id)
    await queue(sessionmaker, users, tag="a")
    await queue(sessionmaker, [blocked], tag="b", due_at=utcnow() + timedelta(seconds=1))  # queued behind
    running = await senders(sessionmaker, settings)
    await emulator.wait_for(lambda: len(emulator.send_log) >= 2, timeout=10)
    await emulator.wait_for(lambda: any(c.status == 403 for c in emulator.calls), timeout=10)

    await wait_rows(sessionmaker, lambda got: len(got) == 4 and settled(got))
    async with sessionmaker() as s:
        assert (await s.get(User, blocked.id)).unreachable is True
        # A later notification for them is not even queued.
        assert not await notify(s, recipient=await s.get(User, blocked.id), kind=OutboxKind.reminder,
                                dedupe_key="c", text="x")
    await running.stop()
    got = {(r.user_id, r.dedupe_key): r for r in await rows(sessionmaker)}
    assert got[(blocked.id, f"a:{blocked.id}")].status == OutboxStatus.unreachable
    assert got[(blocked.id, f"b:{blocked.id}")].status == OutboxStatus.cancelled
    assert [c.status for c in emulator.calls if c.chat_id == blocked.telegram_id] == [403]


async def test_5xx_backs_off_then_succeeds_or_dead_letters(db_url, sessionmaker, emulator, senders):
    settings = delivery_settings(emulator, db_url, DELIVERY_MAX_ATTEMPTS=3, DELIVERY_CHAT_RATE=20)
    users = await make_recipients(sessionmaker, emulator, 3)
    flaky, broken, fine = users
    emulator.faults.inject(method="sendMessage", kind="5xx", status=502, times=2, chat_id=flaky.telegram_id)
    emulator.faults.inject(method="sendMessage", kind="5xx", status=500, times=None, chat_id=broken.telegram_id)
    await queue(sessionmaker, users)
    running = await senders(sessionmaker, settings)
    got = await wait_rows(sessionmaker, lambda got: settled(got))
    await running.stop()
    by_user = {r.user_id: r for r in got}
    assert by_user[fine.id].status == OutboxStatus.sent and by_user[fine.id].attempts == 1
    assert by_user[flaky.id].status == OutboxStatus.sent and by_user[flaky.id].attempts == 3
    dead = by_user[broken.id]
    assert dead.status == OutboxStatus.failed and dead.attempts == 3
    assert dead.last_error == "gave up after 3 attempts: 500: Internal Server Error"
    calls = [c.time for c in emulator.calls if c.chat_id == broken.telegram_id]
    assert len(calls) == 3
    # Backoff: the attempts were spread out, not fired back to back.
    assert calls[2] - calls[0] >= settings.delivery_backoff_base / 2 * 2 - 0.01
    assert emulator.messages(broken.telegram_id) == []
    assert len(emulator.messages(flaky.telegram_id)) == 1


async def test_400_is_dead_lettered_at_once_with_the_error(db_url, sessionmaker, emulator, senders):
    settings = delivery_settings(emulator, db_url)
    users = await make_recipients(sessionmaker, emulator, 1)
    async with sessionmaker() as s:
        await notify(s, recipient=users[0], kind=OutboxKind.case_update, dedupe_key="bad", text="<b>unclosed")
        await s.commit()
    running = await senders(sessionmaker, settings)
    got = await wait_rows(sessionmaker, settled)
    await running.stop()
    assert got[0].status == OutboxStatus.failed and got[0].attempts == 1
    assert "can't parse entities" in got[0].last_error


async def test_timeout_is_an_unknown_outcome_resent_once_only_for_reminders(db_url, sessionmaker, emulator,
                                                                             senders):
    settings = delivery_settings(emulator, db_url, DELIVERY_SEND_TIMEOUT=1)
    users = await make_recipients(sessionmaker, emulator, 2)
    reminder_user, notice_user = users
    for u in users:
        emulator.faults.inject(method="sendMessage", kind="delay", delay=1.6, times=1, chat_id=u.telegram_id)
    await queue(sessionmaker, [reminder_user], kind=OutboxKind.reminder, tag="rem")
    await queue(sessionmaker, [notice_user], kind=OutboxKind.broadcast, tag="bc")
    running = await senders(sessionmaker, settings)
    got = await wait_rows(sessionmaker, settled)
    # The slow first requests did arrive in the end (that is why the outcome is unknown).
    await emulator.wait_for(lambda: len(emulator.messages(notice_user.telegram_id)) == 1, timeout=5)
    await running.stop()
    by_user = {r.user_id: r for r in got}
    rem, bc = by_user[reminder_user.id], by_user[notice_user.id]
    assert rem.status == OutboxStatus.sent and rem.resends == 1
    assert bc.status == OutboxStatus.unknown and bc.resends == 0 and "outcome unknown" in bc.last_error
    assert running.sender.stats.unknown == 1 and running.sender.stats.resent_unknown == 1
    # Broadcast: one request only; reminder: the unknown one and exactly one resend.
    assert len([c for c in emulator.calls if c.chat_id == notice_user.telegram_id]) == 1
    assert len([c for c in emulator.calls if c.chat_id == reminder_user.telegram_id]) == 2


async def test_reminder_due_while_down_is_sent_on_start_late_but_once(db_url, sessionmaker, emulator, senders):
    """The bot was down for three hours: a reminder due then, and rows a dead
    process left mid-call, are dealt with on start."""
    settings = delivery_settings(emulator, db_url)
    users = await make_recipients(sessionmaker, emulator, 4)
    down_since = utcnow() - timedelta(hours=3)
    await queue(sessionmaker, users[:1], kind=OutboxKind.reminder, tag="due", due_at=down_since + timedelta(hours=1))
    await queue(sessionmaker, users[1:2], kind=OutboxKind.reminder, tag="midcall")
    await queue(sessionmaker, users[2:3], kind=OutboxKind.broadcast, tag="midcall")
    await queue(sessionmaker, users[3:4], kind=OutboxKind.case_update, tag="claimed")
    async with sessionmaker() as s:
        # What a process killed three hours ago left behind.
        await s.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key.like("midcall:%")).values(
            status=OutboxStatus.sending, attempts=1, lease_owner="dead:1", lease_expires_at=down_since))
        await s.execute(update(OutboxMessage).where(OutboxMessage.dedupe_key.like("claimed:%")).values(
            status=OutboxStatus.claimed, lease_owner="dead:1", lease_expires_at=down_since))
        await s.commit()
    running = await senders(sessionmaker, settings)
    got = await wait_rows(sessionmaker, settled)
    await running.stop()
    by_key = {r.dedupe_key.split(":")[0] + ("-bc" if r.kind == OutboxKind.broadcast else ""): r for r in got}
    due = by_key["due"]
    assert due.status == OutboxStatus.sent and due.sent_at > due.due_at + timedelta(hours=1)
    assert by_key["midcall"].status == OutboxStatus.sent and by_key["midcall"].resends == 1
    assert by_key["midcall-bc"].status == OutboxStatus.unknown  # never resent
    assert by_key["claimed"].status == OutboxStatus.sent and by_key["claimed"].resends == 0
    for u, expected in zip(users, (1, 1, 0, 1), strict=True):
        assert len(emulator.messages(u.telegram_id)) == expected


async def test_quiet_hours_hold_non_urgent_until_morning(db_url, sessionmaker, emulator):
    settings = delivery_settings(emulator, db_url, QUIET_HOURS="22:00-07:00")
    tz = settings.tz
    night = datetime(2026, 12, 1, 23, 30, tzinfo=tz).astimezone(UTC)
    assert in_quiet_hours(night, "22:00-07:00", tz)
    assert quiet_hours_end(night, "22:00-07:00", tz) == datetime(2026, 12, 2, 7, 0, tzinfo=tz).astimezone(UTC)
    assert not in_quiet_hours(datetime(2026, 12, 1, 12, 0, tzinfo=tz), "22:00-07:00", tz)
    assert in_quiet_hours(datetime(2026, 12, 1, 13, 0, tzinfo=tz), "12:30-14:00", tz)
    users = await make_recipients(sessionmaker, emulator, 5)
    earlier = night - timedelta(minutes=5)
    async with sessionmaker() as s:
        await notify(s, recipient=users[0], kind=OutboxKind.case_update, dedupe_key="case", text="x", due_at=earlier)
        await notify(s, recipient=users[1], kind=OutboxKind.emergency, dedupe_key="sos", text="x", due_at=earlier)
        await notify(s, recipient=users[2], kind=OutboxKind.reminder, dedupe_key="soon", text="x", due_at=earlier,
                     event_at=night + timedelta(minutes=40))
        await notify(s, recipient=users[3], kind=OutboxKind.reminder, dedupe_key="tomorrow", text="x",
                     due_at=earlier, event_at=night + timedelta(hours=10))
        await notify(s, recipient=users[4], kind=OutboxKind.case_update, dedupe_key="urgent", text="x",
                     due_at=earlier, urgent=True)
        await s.commit()
    clock = {"now": night}
    sender = Sender(sessionmaker, _NoTransport(), settings, clock=lambda: clock["now"])
    claimed = await sender.claim(10)
    assert sorted(r.payload["text"] and r.user_id for r in claimed) == sorted([users[1].id, users[2].id, users[4].id])
    clock["now"] = datetime(2026, 12, 2, 6, 59, tzinfo=tz).astimezone(UTC)
    assert await sender.claim(10) == []
    clock["now"] = datetime(2026, 12, 2, 7, 0, tzinfo=tz).astimezone(UTC)
    assert sorted(r.user_id for r in await sender.claim(10)) == [users[0].id, users[3].id]


async def test_claim_is_conditional_and_skips_paused_broadcasts(db_url, sessionmaker, emulator):
    from models import Broadcast, BroadcastAudience, BroadcastScope, BroadcastStatus

    settings = delivery_settings(emulator, db_url)
    users = await make_recipients(sessionmaker, emulator, 4)
    async with sessionmaker() as s:
        paused = Broadcast(scope_type=BroadcastScope.district, scope_id=1, audience=BroadcastAudience.residents,
                           text="x", status=BroadcastStatus.paused)
        s.add(paused)
        await s.flush()
        for u in users[:2]:
            await notify(s, recipient=u, kind=OutboxKind.broadcast, dedupe_key=f"p:{u.id}", text="x",
                         broadcast_id=paused.id)
        for u in users[2:]:
            await notify(s, recipient=u, kind=OutboxKind.case_update, dedupe_key=f"c:{u.id}", text="x")
        await s.commit()
    a = Sender(sessionmaker, _NoTransport(), settings, owner="a")
    b = Sender(sessionmaker, _NoTransport(), settings, owner="b")
    first = await a.claim(1)
    second = await b.claim(10)
    assert len(first) == 1 and len(second) == 1 and first[0].id != second[0].id
    assert await a.claim(10) == []
    async with sessionmaker() as s:
        owners = {r.id: (r.status, r.lease_owner) for r in await s.scalars(select(OutboxMessage))}
    assert owners[first[0].id] == (OutboxStatus.claimed, "a")
    assert [st for st, _ in owners.values()].count(OutboxStatus.pending) == 2  # the paused broadcast's


def test_requests_and_error_classification():
    from bot.delivery.transport import (
        BotApiTransport,
        ClaimedRow,
        Outcome,
        classify_exception,
        classify_response,
    )

    t = BotApiTransport("http://api.test", "1:T", paid_broadcast=True)

    def row(payload):  # type: ignore[no-untyped-def]
        return ClaimedRow(1, 42, None, OutboxKind.broadcast, payload, 0, 0, None)

    method, body = t.request(row({"text": "<b>hi</b>", "buttons": [[{"text": "OK", "callback_data": "x"}]]}))
    assert method == "sendMessage" and body == {
        "chat_id": 42, "text": "<b>hi</b>", "parse_mode": "HTML", "link_preview_options": {"is_disabled": True},
        "reply_markup": {"inline_keyboard": [[{"text": "OK", "callback_data": "x"}]]}, "allow_paid_broadcast": True}
    method, body = t.request(row({"text": "caption", "photo": "AgAD", "parse_mode": "MarkdownV2"}))
    assert method == "sendPhoto" and body["photo"] == "AgAD" and body["caption"] == "caption"
    assert body["parse_mode"] == "MarkdownV2"
    method, body = t.request(row({"text": "", "document": "BQAD"}))
    assert method == "sendDocument" and "caption" not in body
    # Relayed voice messages, audio, videos and places go by their own methods (issue 20: a voice
    # message a resident sent her worker arrived as its caption alone).
    method, body = t.request(row({"text": "💬 DC-2026-000001", "voice": "AwAC"}))
    assert method == "sendVoice" and body["voice"] == "AwAC" and body["caption"] == "💬 DC-2026-000001"
    for kind, api in (("audio", "sendAudio"), ("video", "sendVideo"), ("video_note", "sendVideoNote")):
        method, body = t.request(row({"text": "x", kind: "F1"}))
        assert method == api and body[kind] == "F1" and ("caption" in body) == (kind != "video_note")
    method, body = t.request(row({"text": "", "location": {"latitude": 41.7, "longitude": 125.9}}))
    assert method == "sendLocation" and (body["latitude"], body["longitude"]) == (41.7, 125.9)
    assert t._url("sendMessage") == "http://api.test/bot1:T/sendMessage"

    assert classify_response(429, {"error_code": 429, "description": "Too Many Requests: retry after 7",
                                    "parameters": {"retry_after": 7}}).retry_after == 7
    assert classify_response(403, {"error_code": 403, "description": "Forbidden"}).outcome == Outcome.blocked
    assert classify_response(400, {"error_code": 400, "description": "Bad Request"}).outcome == Outcome.failed
    assert classify_response(502, None).outcome == Outcome.retry
    import aiohttp

    assert classify_exception(TimeoutError()).outcome == Outcome.unknown
    assert classify_exception(aiohttp.ServerDisconnectedError()).outcome == Outcome.unknown
    from aiohttp.client_reqrep import ConnectionKey

    key = ConnectionKey("api.test", 443, True, True, None, None, None, None)
    refused = aiohttp.ClientConnectorError(connection_key=key, os_error=OSError(111, "refused"))
    assert classify_exception(refused).outcome == Outcome.retry


async def test_a_paused_broadcast_stops_sending_and_a_resumed_one_finishes(db_url, sessionmaker, emulator, senders):
    from models import Broadcast, BroadcastAudience, BroadcastScope, BroadcastStatus

    settings = delivery_settings(emulator, db_url, DELIVERY_GLOBAL_RATE=20)
    users = await make_recipients(sessionmaker, emulator, 30)
    async with sessionmaker() as s:
        b = Broadcast(scope_type=BroadcastScope.district, scope_id=1, audience=BroadcastAudience.residents,
                      text="x", total=30)
        s.add(b)
        await s.commit()
    await queue(sessionmaker, users, kind=OutboxKind.broadcast, tag="bc", broadcast_id=b.id)
    running = await senders(sessionmaker, settings)
    await emulator.wait_for(lambda: len(emulator.send_log) >= 3, timeout=10)
    async with sessionmaker() as s:
        await s.execute(update(Broadcast).where(Broadcast.id == b.id).values(status=BroadcastStatus.paused))
        await s.commit()
    # Rows already marked go out; then nothing more, and no row stays claimed or sending.
    got = await wait_rows(sessionmaker, lambda g: not any(
        r.status in (OutboxStatus.claimed, OutboxStatus.sending) for r in g))
    sent_at_pause = sum(r.status == OutboxStatus.sent for r in got)
    assert 3 <= sent_at_pause < 30 and len(emulator.send_log) == sent_at_pause
    assert {r.status for r in got} == {OutboxStatus.sent, OutboxStatus.pending}
    async with sessionmaker() as s:
        await s.execute(update(Broadcast).where(Broadcast.id == b.id).values(status=BroadcastStatus.active))
        await s.commit()
    running.sender.wake()
    got = await wait_rows(sessionmaker, settled)
    await running.stop()
    assert {r.status for r in got} == {OutboxStatus.sent} and len(emulator.send_log) == 30


async def test_a_stop_that_comes_during_a_claim_is_not_lost(db_url, sessionmaker, emulator, senders):
    """The stop wakes the claim loop; if the loop is inside a claim just then,
    it must not clear that wake-up and sleep a whole poll interval (a minute
    here) before it notices."""
    running = await senders(sessionmaker, delivery_settings(emulator, db_url, DELIVERY_POLL_INTERVAL=60))
    claiming, release = asyncio.Event(), asyncio.Event()
    original = running.sender.claim

    async def claim(n: int):  # type: ignore[no-untyped-def]
        claiming.set()
        await release.wait()
        return await original(n)

    running.sender.claim = claim  # type: ignore[method-assign]
    await asyncio.wait_for(claiming.wait(), 10)
    running.stop_event.set()
    await asyncio.wait_for(running.sender._stopped.wait(), 10)  # the stop's wake-ups are out
    release.set()
    # With the wake-up lost, the sender would give up on the loop only after 15 s.
    await asyncio.wait_for(running.task, 10)


async def test_a_large_queueing_refreshes_the_planners_counts(db_url, sessionmaker, emulator, monkeypatch):
    """After thousands of rows are queued at once the planner must know it, or each
    claim sorts them all (PostgreSQL; benchmarks/README.md, the city broadcast)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the planner's statistics are PostgreSQL's")
    from sqlalchemy import text

    from bot.services import notify as notify_module

    monkeypatch.setattr(notify_module, "ANALYZE_AFTER_ROWS", 200)
    users = await make_recipients(sessionmaker, emulator, 300)
    async with sessionmaker() as s:
        await notify_module.queue_many(s, [(u.id, u.telegram_id, {"text": "notice"}) for u in users],
                                       kind=OutboxKind.broadcast, dedupe_prefix="big", now=utcnow())
        await s.commit()
    async with sessionmaker() as s:
        counted = await s.scalar(text("SELECT reltuples FROM pg_class WHERE relname = 'outbox'"))
    assert counted == 300
