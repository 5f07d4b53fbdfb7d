"""No accepted update is lost, none is handled twice, no answer is lost: kill the bot.

The bot runs as a real process (`python -m bot run`) against the emulator in
this test process.  Thirty residents write at once; ten of their chats answer
very slowly and each of those ten residents has sent a second message, which
waits behind the first (updates of a chat are handled in order).  When the
twenty fast chats are answered and the ten slow answers are in flight, the
process is killed with SIGKILL and started again.

What must hold (see bot/middlewares.py and bot/answers.py): every update was
stored exactly once; the twenty finished ones are not handled again; the ten
whose effects and answer were committed before the answer went out are not
handled again either, but their recorded answer is sent by the next run;
the ten second messages, never started, are handled after the restart; at
the end nothing is pending and no answer is left unconfirmed.

Then bursts of twenty messages from one person, the bot killed at different
points: every message is answered, in order, and the only answer that may
arrive twice is the one in flight at the kill.  And an upload (the privacy
export) recorded and not yet through when the bot is killed is sent by the
next run, once, with the recorded bytes.  And a staff report whose files are
rendering when the bot is killed is made and sent by the next run: the update
was left pending while they rendered (``bot.middlewares.commit_keep_pending``).
"""

from __future__ import annotations

import asyncio
import os
import signal
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update

from bot.services.dates import local_day
from models import (
    FSMRecord,
    InboundStatus,
    InboundUpdate,
    OutgoingFile,
    OutgoingRequest,
    User,
    utcnow,
)
from tests.conftest import BOT_TOKEN
from tests.processes import ForkedProcess, end_process, spawn_module


async def _start_bot(emulator, db_url: str, log: Path, render_gate: Path | None = None,
                     **extra: str) -> ForkedProcess | asyncio.subprocess.Process:
    """``python -m bot run``; with ``render_gate``, one whose reports never finish rendering
    (tests/render_gate.py): it writes that file when one starts."""
    env = {
        **os.environ,
        "BOT_TOKEN": BOT_TOKEN,
        "TELEGRAM_API_URL": emulator.base_url,
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "INFO",
        # The restarted process is the same instance: on PostgreSQL it takes its
        # unfinished updates back at once (tests/unit/test_inbound.py covers the
        # takeover of a dead process's updates once their lease runs out).
        "INSTANCE_NAME": "durability-test",
        **extra,
    }
    for name in ("REDIS_URL", "WEBHOOK_URL", "INBOUND_LEASE_SECONDS"):
        env.pop(name, None)
    if render_gate is None:
        return await spawn_module(env, log, "bot", "run")
    return await spawn_module({**env, "GRIDBOT_TEST_RENDER_GATE": str(render_gate)}, log,
                              "tests.render_gate", "bot", "run")


async def _unconfirmed(sessionmaker) -> int:
    async with sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(OutgoingRequest)) or 0)


async def _statuses(sessionmaker) -> dict[InboundStatus, int]:
    async with sessionmaker() as s:
        return dict((await s.execute(
            select(InboundUpdate.status, func.count()).group_by(InboundUpdate.status))).all())


async def test_kill_mid_batch_loses_nothing_and_repeats_nothing(emulator, sessionmaker, db_url, tmp_path):
    users = [emulator.create_user(first_name=f"居民{i}") for i in range(30)]
    fast, slow = users[:20], users[20:]
    delays = [
        emulator.faults.inject(method="sendMessage", kind="delay", delay=120, times=1, chat_id=u.id)
        for u in slow
    ]
    firsts = [await emulator.send_text(u, "/start") for u in users]
    seconds = [await emulator.send_text(u, "/help") for u in slow]
    log = tmp_path / "bot.log"

    proc = await _start_bot(emulator, db_url, log)
    try:
        await emulator.wait_for(
            lambda: all(len(emulator.messages(u.id)) == 1 for u in fast) and all(d.hits == 1 for d in delays),
            timeout=60,
        )
        async with asyncio.timeout(30):  # the twenty answered ones confirmed (written within moments)
            while await _unconfirmed(sessionmaker) > 10:  # noqa: ASYNC110 - another process's rows
                await asyncio.sleep(0.02)
        before = await _statuses(sessionmaker)
    finally:
        assert await end_process(proc, signal.SIGKILL) == -signal.SIGKILL
    # Mid-batch: 20 + 10 done (the slow ten committed with their answer, before it went out), 10 never started.
    assert before == {InboundStatus.done: 30, InboundStatus.pending: 10}, before
    assert all(len(emulator.messages(u.id)) == 0 for u in slow)
    assert await _unconfirmed(sessionmaker) == 10  # the ten answers in flight, recorded
    for d in delays:  # the slow requests died with the process (the emulator would still answer them late)
        d.remove()

    proc = await _start_bot(emulator, db_url, log)
    try:
        # Each slow chat now gets its recorded first answer, then the answer to its second message (/help).
        await emulator.wait_for(
            lambda: all(len(emulator.messages(u.id)) >= 2 for u in slow),
            timeout=60,
        )
    finally:
        # A graceful stop lets running handlers finish their transaction.
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]

    async with sessionmaker() as s:
        rows = (await s.execute(select(InboundUpdate.update_id, InboundUpdate.status, InboundUpdate.attempts))).all()
        people = await s.scalar(select(func.count()).select_from(User))
    assert sorted(r.update_id for r in rows) == sorted(a.update_id for a in firsts + seconds)  # each stored once
    assert {r.status for r in rows} == {InboundStatus.done}
    assert people == 30
    for u in fast:  # finished before the kill: not handled again
        assert len(emulator.messages(u.id)) == 1
    first_answer = emulator.messages(fast[0].id)[0].text
    for u in slow:  # the first answer sent by the next run, then the second message's (/help), each once
        texts = [m.text for m in emulator.messages(u.id)]
        assert len(texts) == 2 and texts[0] == first_answer, texts
        assert texts[1] != first_answer and "👤" in (texts[1] or ""), texts
    assert await _unconfirmed(sessionmaker) == 0
    attempts = {r.update_id: r.attempts for r in rows}
    assert sorted(attempts[a.update_id] for a in seconds) == [1] * 10  # the interrupted run counted
    assert sorted(attempts[a.update_id] for a in firsts) == [0] * 30
    assert emulator.unknown_methods == []


async def test_sigterm_finishes_what_it_holds_within_the_grace(emulator, sessionmaker, db_url, tmp_path):
    """SIGTERM while answers are in flight: those are finished, nothing is answered
    twice, the process exits 0 within SHUTDOWN_GRACE_SECONDS, and what it had not
    started is left for the next run."""
    users = [emulator.create_user(first_name=f"居民{i}") for i in range(8)]
    delays = [emulator.faults.inject(method="sendMessage", kind="delay", delay=2, times=1, chat_id=u.id)
              for u in users]
    for u in users:
        await emulator.send_text(u, "/help")
        await emulator.send_text(u, "/help")  # waits behind the first: not started at the stop
    log = tmp_path / "bot.log"
    proc = await _start_bot(emulator, db_url, log, SHUTDOWN_GRACE_SECONDS="6")
    try:
        await emulator.wait_for(lambda: all(d.hits == 1 for d in delays), timeout=60)  # all eight in flight
    finally:
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
        took = loop.time() - began
    assert took < 6 + 3, took  # the grace, and the process's own exit
    assert all(len(emulator.messages(u.id)) == 1 for u in users)  # each answer in flight arrived, once
    # The second messages were not started: they are left pending for the next run
    # (test_sigterm_does_not_wait_past_the_grace shows that run handling them).
    assert (await _statuses(sessionmaker)) == {InboundStatus.done: len(users), InboundStatus.pending: len(users)}


async def test_sigterm_does_not_wait_past_the_grace(emulator, sessionmaker, db_url, tmp_path):
    """A handler stuck on a slow Telegram does not hold the stop: after the grace
    the process exits 0 anyway, and the updates it had not started are left for
    the next run."""
    users = [emulator.create_user(first_name=f"居民{i}") for i in range(3)]
    stuck = [emulator.faults.inject(method="sendMessage", kind="delay", delay=8, times=1, chat_id=u.id)
             for u in users]
    for u in users:
        await emulator.send_text(u, "/help")
        await emulator.send_text(u, "/help")
    log = tmp_path / "bot.log"
    proc = await _start_bot(emulator, db_url, log, SHUTDOWN_GRACE_SECONDS="1")
    try:
        await emulator.wait_for(lambda: all(d.hits == 1 for d in stuck), timeout=60)
    finally:
        loop = asyncio.get_running_loop()
        began = loop.time()
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
        took = loop.time() - began
    assert took < 1 + 3, took
    assert (await _statuses(sessionmaker)).get(InboundStatus.pending) == len(users)  # the second messages

    for handle in stuck:
        handle.remove()
    proc = await _start_bot(emulator, db_url, log)
    try:
        async with asyncio.timeout(60):  # the next run handles the second messages
            while (await _statuses(sessionmaker)).get(InboundStatus.pending):  # noqa: ASYNC110 - another process's rows: no event to wait on
                await asyncio.sleep(0.1)
    finally:
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
    assert await _statuses(sessionmaker) == {InboundStatus.done: 2 * len(users)}


# A burst of twenty messages whose answers cycle through three texts: a lost
# answer or one sent twice shows in the order.
BURST = (["/help", "/nope", "/cancel"] * 7)[:20]


def _kind(text: str | None) -> str:
    """Which of the burst's three answers this is (help, unknown command, cancelled)."""
    text = text or ""
    return "help" if "👤" in text else "nope" if "❓" in text else "cancel"


EXPECTED = [{"/help": "help", "/nope": "nope", "/cancel": "cancel"}[t] for t in BURST]


def _without_one_repeat(kinds: list[str]) -> int:
    """How many answers came twice (0 or 1) if ``kinds`` is the burst's answers in
    order with at most one repeated right after itself; fails otherwise."""
    if kinds == EXPECTED:
        return 0
    for i in range(1, len(kinds)):
        if kinds[i] == kinds[i - 1] and kinds[:i] + kinds[i + 1:] == EXPECTED:
            return 1
    raise AssertionError(f"answers lost or out of order:\n{kinds}\nexpected\n{EXPECTED}")


@pytest.mark.timeout(360)  # six starts of a real process: slow on a loaded machine
async def test_kill_during_bursts_loses_no_answer(emulator, sessionmaker, db_url, tmp_path):
    """Three bursts of twenty messages, each killed at a different point (with an
    answer in flight, or wherever the bot is when the k-th answer is seen)."""
    log = tmp_path / "bot.log"
    fast = {"ANSWER_CHAT_RATE": "1000"}  # pacing is another test's subject: no second per answer here
    for kill_after, in_flight in ((0, True), (7, False), (14, True)):
        u = emulator.create_user(first_name=f"居民{kill_after}")
        for text in BURST:
            await emulator.send_text(u, text)
        # Without a held answer the kill lands wherever the bot is: paced at five
        # answers a second, most likely between an answer's commit and its send.
        proc = await _start_bot(emulator, db_url, log, **(fast if in_flight else {"ANSWER_CHAT_RATE": "5"}))
        try:
            await emulator.wait_for(lambda: len(emulator.messages(u.id)) >= kill_after, timeout=60)  # noqa: B023
            if in_flight:  # the next answer is held by Telegram while the process dies
                held = emulator.faults.inject("sendMessage", kind="delay", delay=1.0, chat_id=u.id)
                await emulator.wait_for(lambda: held.hits == 1, timeout=60)  # noqa: B023
        finally:
            assert await end_process(proc, signal.SIGKILL) == -signal.SIGKILL
        seen = len(emulator.messages(u.id))
        assert seen < len(BURST), "killed too late to prove anything"
        if in_flight:  # the held answer still arrives: Telegram had it
            await emulator.wait_for(lambda: len(emulator.messages(u.id)) == seen + 1, timeout=10)  # noqa: B023

        proc = await _start_bot(emulator, db_url, log, **fast)
        try:
            await emulator.wait_for(lambda: len(emulator.messages(u.id)) >= len(BURST), timeout=60)  # noqa: B023
            async with asyncio.timeout(60):  # the last confirmations are written by the running bot
                while await _unconfirmed(sessionmaker):  # noqa: ASYNC110 - another process's rows
                    await asyncio.sleep(0.05)
        finally:
            assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
        texts = [m.text for m in emulator.messages(u.id)]
        assert len({t for t in texts}) == 3, texts  # three different answers, each always the same
        repeated = _without_one_repeat([_kind(t) for t in texts])
        if in_flight:  # the held one came twice: once from the dead process, once recorded and resent
            assert repeated == 1, texts
    statuses = await _statuses(sessionmaker)
    assert set(statuses) == {InboundStatus.done}, statuses
    assert await _unconfirmed(sessionmaker) == 0
    assert emulator.unknown_methods == []


async def test_an_upload_recorded_when_the_bot_is_killed_is_sent_by_the_next_run(
        emulator, demo_sessionmaker, db_url, tmp_path):
    """/mydata: the export is recorded with the update; Telegram answers 502 and the
    bot, waiting before its next try, is killed.  The next run sends the recorded
    request with its very bytes, once, and the update is not handled again."""
    resident = emulator.create_user(first_name="王桂芝", user_id=7000000040)  # registered in the demo district
    refusing = emulator.faults.inject("sendDocument", kind="5xx", status=502, times=None, chat_id=resident.id)
    log = tmp_path / "bot.log"
    # The first backoff is 30 to 60 s: the kill lands in it.
    proc = await _start_bot(emulator, db_url, log, ANSWER_BACKOFF_BASE="60", ANSWER_BACKOFF_MAX="60")
    try:
        asked = await emulator.send_text(resident, "/mydata")
        await emulator.wait_for(lambda: refusing.hits == 1, timeout=60)
        async with demo_sessionmaker() as s:
            recorded = (await s.execute(
                select(OutgoingRequest.method, OutgoingFile.filename, OutgoingFile.data)
                .join(OutgoingFile, (OutgoingFile.inbound_id == OutgoingRequest.inbound_id)
                      & (OutgoingFile.seq == OutgoingRequest.seq)))).all()
    finally:
        assert await end_process(proc, signal.SIGKILL) == -signal.SIGKILL
    [(method, filename, data)] = recorded
    assert (method, filename) == ("SendDocument", "mydata.json")
    assert emulator.messages(resident.id) == []  # nothing got through
    assert await _statuses(demo_sessionmaker) == {InboundStatus.done: 1}  # done with its answer on record
    refusing.remove()

    proc = await _start_bot(emulator, db_url, log)
    try:
        await emulator.wait_for(lambda: len(emulator.messages(resident.id)) == 1, timeout=60)
        async with asyncio.timeout(30):  # the confirmation is written by the running bot
            while await _unconfirmed(demo_sessionmaker):  # noqa: ASYNC110 - another process's rows
                await asyncio.sleep(0.05)
    finally:
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
    [document] = emulator.messages(resident.id)
    assert document.kind == "document" and document.file_name == "mydata.json"
    assert emulator.file_bytes(document.file_id) == bytes(data)  # the recorded bytes
    assert [c.status for c in emulator.calls if c.method == "sendDocument"] == [502, 200]
    async with demo_sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(OutgoingFile)) == 0
        attempts = await s.scalar(select(InboundUpdate.attempts).where(InboundUpdate.update_id == asked.update_id))
    assert attempts == 0  # not handled again: only its answer was sent


# Pacing (a second between a chat's answers) is another test's subject: a report is four
# answers, and the dialogue before it a few more.
UNPACED = {"ANSWER_CHAT_RATE": "1000"}
SECRETARY_XS = 7000000002  # 新站社区's secretary in the demo district: reports of the community and its grids


async def _rendering(gate: Path) -> None:
    async with asyncio.timeout(60):
        while not await asyncio.to_thread(gate.exists):  # noqa: ASYNC110 - another process's file: no event to wait on
            await asyncio.sleep(0.02)


async def _tap(emulator, person, label: str, after: int) -> None:  # type: ignore[no-untyped-def]
    """Press the button labelled ``label`` on the newest bot message after message
    ``after`` that has one, once it is there."""
    def found():  # type: ignore[no-untyped-def]
        for m in reversed(emulator.messages(person.id)):
            for row in m.inline_buttons if m.message_id > after else ():
                for text, data in row:
                    if label in text and data:
                        return m.message_id, data
        return None

    message_id, data = await emulator.wait_for(found, timeout=60)
    await emulator.press_button(person, message_id, data)


def _report(emulator, person, after: int) -> tuple[list[str], int, list[str]]:  # type: ignore[no-untyped-def]
    """The report's messages after message ``after``: summaries, charts, documents' names."""
    new = [m for m in emulator.messages(person.id) if m.message_id > after]
    return ([m.text for m in new if m.kind == "text" and "Received" in (m.text or "")],
            len([m for m in new if m.kind == "photo"]), sorted(m.file_name for m in new if m.kind == "document"))


@pytest.mark.timeout(300)  # four starts of a real process and two reports rendered: slow on a loaded machine
async def test_a_report_killed_while_its_files_render_is_sent_by_the_next_run(
        emulator, demo_sessionmaker, db_url, tmp_path):
    """The secretary's report is asked for, by typed dates and by a period's button; the
    bot is killed while the files render (held there: tests/render_gate.py).  The update was
    not marked done by the commit before the rendering, so the next run handles it
    again: the summary and the three files arrive, once; the typed dates are read as
    dates again (their conversation step ended only with the files); the button's
    "Preparing the report…" goes again and Telegram refuses it as too old, which
    changes nothing."""
    async with demo_sessionmaker() as s:
        await s.execute(update(User).where(User.telegram_id == SECRETARY_XS).values(locale="en"))
        await s.commit()
    secretary = emulator.create_user(first_name="刘秀梅", user_id=SECRETARY_XS, language_code="en")
    log, gate = tmp_path / "bot.log", tmp_path / "rendering"
    today = local_day(utcnow(), ZoneInfo("Asia/Shanghai"))
    files = ["-cases.csv", ".xlsx"]

    async def killed_while_rendering(ask, awaiting: str | None) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        """Ask for the report with a process held in its rendering, check the update is still
        pending there and the conversation ``awaiting`` as before, kill it; the last message
        id before the report, and the update's id."""
        gate.unlink(missing_ok=True)
        proc = await _start_bot(emulator, db_url, log, render_gate=gate, **UNPACED)
        try:
            before, update_id = await ask()
            await _rendering(gate)
            async with demo_sessionmaker() as s:
                status = await s.scalar(select(InboundUpdate.status).where(InboundUpdate.update_id == update_id))
                state = await s.scalar(select(FSMRecord.state).where(
                    FSMRecord.key.contains(f":{SECRETARY_XS}:{SECRETARY_XS}:")))
        finally:
            assert await end_process(proc, signal.SIGKILL) == -signal.SIGKILL
        assert status == InboundStatus.pending  # the commit before the rendering did not mark it done
        assert state == awaiting  # typed dates: still awaited (a re-run reads them as dates)
        assert _report(emulator, secretary, before) == ([], 0, [])  # nothing of the report went out
        return before, update_id

    async def the_next_run_sends_it(before: int, update_id: int) -> None:
        proc = await _start_bot(emulator, db_url, log, **UNPACED)
        try:
            await emulator.wait_for(lambda: len(_report(emulator, secretary, before)[2]) == 2, timeout=60)
            async with asyncio.timeout(30):  # the confirmations are written by the running bot
                while await _unconfirmed(demo_sessionmaker):  # noqa: ASYNC110 - another process's rows
                    await asyncio.sleep(0.05)
        finally:
            assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
        summaries, charts, documents = _report(emulator, secretary, before)
        assert len(summaries) == 1 and charts == 1, (summaries, charts)
        assert [any(d.endswith(end) for d in documents) for end in files] == [True, True], documents
        async with demo_sessionmaker() as s:
            attempts = await s.scalar(select(InboundUpdate.attempts).where(InboundUpdate.update_id == update_id))
            state = await s.scalar(select(FSMRecord.state).where(
                FSMRecord.key.contains(f":{SECRETARY_XS}:{SECRETARY_XS}:")))
        assert attempts == 1  # handled again after the kill, once
        assert state is None  # the typed dates' step is over
        assert set(await _statuses(demo_sessionmaker)) == {InboundStatus.done}

    def last() -> int:
        mine = emulator.messages(SECRETARY_XS)
        return mine[-1].message_id if mine else 0

    async def by_dates() -> tuple[int, int]:
        asked = last()
        await emulator.send_text(secretary, "/report")
        await _tap(emulator, secretary, "Xinzhan Community (community)", asked)
        await _tap(emulator, secretary, "Choose dates", asked)
        await emulator.wait_for(lambda: "first and the last day" in (emulator.messages(SECRETARY_XS)[-1].text or ""),
                                timeout=60)
        before = emulator.messages(SECRETARY_XS)[-1].message_id
        typed = await emulator.send_text(secretary, f"{today - timedelta(days=1):%Y-%m-%d} {today:%Y-%m-%d}")
        return before, typed.update_id

    await the_next_run_sends_it(*await killed_while_rendering(by_dates, "ReportForm:dates"))

    async def by_button() -> tuple[int, int]:
        asked = last()
        await emulator.send_text(secretary, "/report")
        await _tap(emulator, secretary, "Xinzhan Community (community)", asked)
        await emulator.wait_for(lambda: "which period?" in (emulator.messages(SECRETARY_XS)[-1].text or ""),
                                timeout=60)
        question = emulator.messages(SECRETARY_XS)[-1]
        data = next(d for row in question.inline_buttons for t, d in row if "This week" in t)
        pressed = await emulator.press_button(secretary, question.message_id, data)
        return question.message_id, pressed.update_id

    answered = len(emulator.callback_answers)
    await the_next_run_sends_it(*await killed_while_rendering(by_button, None))
    notes = [a for a in emulator.callback_answers[answered:] if a.get("text") == "Preparing the report…"]
    assert len(notes) == 1  # the killed run's; the next run's came too late for Telegram
    assert [c.status for c in emulator.calls if c.method == "answerCallbackQuery"][-2:] == [200, 400]
    assert emulator.unknown_methods == []


async def test_a_kill_while_a_request_aside_is_in_flight_loses_no_answer(emulator, sessionmaker, db_url, tmp_path):
    """A Traditional Chinese newcomer's first words: her chat's command list goes first,
    at once (it is not an answer), and Telegram holds it while the process dies.  The
    update was not marked done by that request: the next run handles it again and she gets
    the welcome and the privacy notice, once.  (Before, the request's commit marked the
    update done and the welcome was never made.)"""
    log = tmp_path / "bot.log"
    newcomer = emulator.create_user(first_name="林", language_code="zh-tw")
    proc = await _start_bot(emulator, db_url, log)
    try:
        # The default lists go out at start; then the next list, hers, is held.
        await emulator.wait_for(lambda: emulator.commands({"type": "default"}, "en"), timeout=60)
        held = emulator.faults.inject("setMyCommands", kind="delay", delay=30.0)
        first = await emulator.send_text(newcomer, "你好，我家水管漏水了")
        await emulator.wait_for(lambda: held.hits == 1, timeout=60)
        assert await _statuses(sessionmaker) == {InboundStatus.pending: 1}
    finally:
        assert await end_process(proc, signal.SIGKILL) == -signal.SIGKILL
    assert emulator.messages(newcomer.id) == []
    held.remove()

    proc = await _start_bot(emulator, db_url, log)
    try:
        await emulator.wait_for(lambda: len(emulator.messages(newcomer.id)) >= 1, timeout=60)
        async with asyncio.timeout(30):
            while await _statuses(sessionmaker) != {InboundStatus.done: 1}:  # noqa: ASYNC110 - another process's rows
                await asyncio.sleep(0.05)
    finally:
        assert await end_process(proc, signal.SIGTERM) == 0, log.read_text(errors="replace")[-3000:]
    [welcome] = emulator.messages(newcomer.id)
    assert "您的資訊和您的權利" in (welcome.text or "") and "👋" in (welcome.text or "")
    async with sessionmaker() as s:
        attempts = await s.scalar(select(InboundUpdate.attempts).where(InboundUpdate.update_id == first.update_id))
    assert attempts == 1  # handled again, once
