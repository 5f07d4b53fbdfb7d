"""The patrol diary end to end: the real bot, the emulator, the demo district.

Personas (data/demo_district.yaml): 张伟 7000000014 and 王芳 7000000015 are
grid workers of 新站社区第一网格 (DC-XS-01), 李红霞 7000000013 its grid head,
刘秀梅 7000000002 the secretary of 新站社区, 陈立新 7000000003 the secretary of
another community, 陈静 7000000017 a worker of the next grid, 王桂芝 7000000040
a resident (and a household of the ledger).
"""

from __future__ import annotations

import re

import telegram
from sqlalchemy import select

from models import (
    Case,
    CaseEvent,
    CaseStatus,
    DiaryAttachment,
    DiaryEntry,
    DiaryEntryRevision,
    EntryKind,
    Household,
    OutboxMessage,
    Patrol,
    PatrolEnd,
    RevisionAction,
    User,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
OGG = b"OggS" + b"\x00" * 40


async def _worker(running, user_id: int = 7000000014, name: str = "张伟"):  # type: ignore[no-untyped-def]
    p = running.person(running.emu.create_user(first_name=name, user_id=user_id))
    await p.send("/start")
    return p


async def _on_patrol(running):  # type: ignore[no-untyped-def]
    """张伟 starts a patrol from the diary panel."""
    w = await _worker(running)
    await w.send("📒 民情日志")
    await w.tap("开始巡查")
    return w


async def _open_note(w, n: int) -> None:  # type: ignore[no-untyped-def]
    """Today's diary, then the card of its ``n``-th entry."""
    await w.send("/diary")
    await w.tap(re.compile(rf"^{n}$"))


async def live_location(p, latitude: float, longitude: float, period: int = 3600):  # type: ignore[no-untyped-def]
    """Share a live location; the bot's answers and the id of the location message."""
    before = p.emu.state.version
    action = await p.emu.send_location(p.user, latitude, longitude, live_period=period)
    await p.bot.settle(action)
    return p._changed_since(before), action.message_id


async def move_live_location(p, message_id: int, latitude: float, longitude: float):  # type: ignore[no-untyped-def]
    """Telegram sends a moving live location as edits of its message."""
    emu = p.emu
    state = emu.state
    bot = state.bot(None)
    msg = state.find_message(bot.token, p.id, message_id)
    msg.media["location"] = telegram.Location(longitude=longitude, latitude=latitude, live_period=3600)
    msg.location = {"latitude": latitude, "longitude": longitude, "live_period": 3600}
    msg.edits += 1
    msg.edit_date = state.now()
    state.touch(msg)
    ptb = state.ptb_message(msg)
    update_id, _update, _queued = state.enqueue(
        bot.token, "edited_message", lambda uid: telegram.Update(uid, edited_message=ptb))
    await p.bot.settle(type("A", (), {"update_id": update_id})())


def texts(messages) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(m.text or m.caption or "" for m in messages)


async def _entries(sm, worker_tg: int) -> list[DiaryEntry]:  # type: ignore[no-untyped-def]
    from models import User

    async with sm() as s:
        uid = await s.scalar(select(User.id).where(User.telegram_id == worker_tg))
        return list(await s.scalars(select(DiaryEntry).where(DiaryEntry.worker_id == uid).order_by(DiaryEntry.id)))


async def test_a_patrol_with_every_kind_of_entry_and_loose_notes(running, demo_sessionmaker):
    w = await _worker(running)
    assert "📒 民情日志" in w.reply_keyboard()
    panel = await w.send("📒 民情日志")
    assert "未在巡查" in panel[-1].text and "待走访住户（5）" in str(panel[-1].inline_buttons)
    started = await w.tap("▶️ 开始巡查")
    assert "开始巡查" in texts(started)
    assert w.reply_keyboard() == ["🏠 走访", "💬 民意", "⚠️ 问题", "📍 位置", "📒 民情日志", "⏹ 结束巡查"]
    # The panel above says so too, rather than "not on patrol" over a patrol just started.
    card = next(m for m in started if m.message_id == panel[-1].message_id)
    assert "🚶 巡查中" in card.text
    assert "⏹ 结束巡查" in str(card.inline_buttons) and "开始巡查" not in str(card.inline_buttons)

    # 1. A visit to a household of the ledger: building, household (its tag is the category), a note, a photo.
    buildings = await w.send("🏠 走访")
    assert "哪栋楼" in buildings[-1].text
    households = await w.tap("站前小区2号楼")
    assert "王桂芝" in str(households[-1].inline_buttons)
    logged = await w.tap("王桂芝")
    assert "走访已记录" in logged[-1].text and "独居老人" in logged[-1].text
    assert "已补充" in texts(await w.send("身体还好，药够吃到月底"))
    assert "已补充" in texts(await w.send_photo(PNG))

    # 2. A visit by unit and category (no ledger household).
    await w.send("🏠 走访")
    await w.tap("站前小区4号楼")
    await w.tap("2 单元")
    unit_visit = await w.tap("困难家庭")
    assert "走访已记录" in unit_visit[-1].text and "2 单元" in unit_visit[-1].text

    # 3. An opinion: topic, a voice message, the resident's name.
    await w.send("💬 民意")
    opinion = await w.tap("环境卫生")
    assert "匿名" in opinion[-1].text
    await w.send_voice(OGG, duration=4)
    await w.tap("居民姓名")
    await w.send("张阿姨")

    # 4. A problem, with a photo and the live location; one tap makes it a case.
    live, _ = await live_location(w, 41.7437, 125.9170)
    assert "实时位置" in texts(live)
    asked = await w.send("⚠️ 问题")
    assert "由您办理" in asked[-1].text and "交网格团队" not in asked[-1].text  # a worker keeps what he finds
    await w.send("3号楼门口井盖松动")
    await w.send_photo(PNG)
    made = await w.tap("转为诉求")
    # Issue 20: it is his, with its place; he is told so (not "handed to the grid team"), with its card a tap away.
    told = re.search(r"诉求 (DC-\d{4}-\d{6}) 由您办理（已带上地点）", texts(made))
    assert told and "已交网格团队" not in texts(made)
    card = await w.tap_in(made[-1], "📄 详情")
    assert told.group(1) in card[-1].text and "办理人：" + "张伟" in card[-1].text
    assert "✅ 标记办完" in str(card[-1].inline_buttons) and "✅ 受理" not in str(card[-1].inline_buttons)

    # 5. Loose notes: text, photo, location, voice; each kept in order and taggable.
    note1 = await w.send("楼道堆放杂物")
    assert "已存为记录" in note1[-1].text
    await w.send_photo(PNG, "车棚顶破了")
    await w.share_location(41.7430, 125.9175)
    await w.send_voice(OGG, duration=4)
    # Tag the first note as an opinion (2 taps), the second as a problem (1 tap).
    await w.press(note1[-1].message_id, note1[-1].inline_buttons[0][1][1])  # 💬
    await w.tap("物业房屋")

    ended = await w.send("⏹ 结束巡查")
    summary = texts(ended)
    assert "巡查结束" in summary
    assert "走访 2 · 民意 2 · 问题 1 · 记录 3" in summary and "转为诉求：1 件" in summary
    assert "站前小区2号楼" in summary and "站前小区4号楼" in summary
    assert "📒 民情日志" in w.reply_keyboard() and "⏹ 结束巡查" not in w.reply_keyboard()

    entries = await _entries(demo_sessionmaker, w.id)
    assert [e.kind for e in entries] == [EntryKind.visit, EntryKind.visit, EntryKind.opinion, EntryKind.problem,
                                         EntryKind.opinion, EntryKind.note, EntryKind.note, EntryKind.note]
    async with demo_sessionmaker() as s:
        visit, unit_visit_row, opinion_row, problem = entries[:4]
        assert visit.text == "身体还好，药够吃到月底" and visit.category == "elderly_alone"
        assert (unit_visit_row.unit, unit_visit_row.category) == ("2", "family_difficulty")
        assert (opinion_row.category, opinion_row.resident_name) == ("environment", "张阿姨")
        assert (entries[4].category, entries[4].text) == ("property", "楼道堆放杂物")
        assert entries[5].text == "车棚顶破了"
        files = {(a.entry_id, a.kind.value) for a in await s.scalars(select(DiaryAttachment))}
        assert {(visit.id, "photo"), (opinion_row.id, "voice"), (problem.id, "photo"), (entries[5].id, "photo"),
                (entries[6].id, "location"), (entries[7].id, "voice")} <= files
        # The problem: where the live location was, and linked both ways with its case.
        assert (problem.latitude, problem.longitude) == (41.7437, 125.9170)
        case = await s.get(Case, problem.case_id)
        assert case.description == "3号楼门口井盖松动" and case.grid_id == visit.grid_id
        event = await s.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id))
        assert event.data["diary_entry"] == problem.id
        told = set(await s.scalars(select(User.telegram_id).join(OutboxMessage, OutboxMessage.user_id == User.id)
                                   .where(OutboxMessage.payload["text"].as_string().contains("新诉求"))))
        # Issue 20: the worker who found it owns it at once (nobody is asked to accept it), with its place.
        assert not told
        owner = await s.get(User, case.owner_id)
        assert owner.telegram_id == w.id and case.status == CaseStatus.accepted
        assert (case.latitude, case.longitude) == (41.7437, 125.9170)
        # The ledger household's clock was reset by the visit.
        wang = await s.get(Household, visit.household_id)
        assert wang.last_visit_at == visit.occurred_at
        patrol = await s.scalar(select(Patrol).where(Patrol.id == visit.patrol_id))
        assert patrol.end_reason == PatrolEnd.manual and patrol.live_until is not None


async def test_tagging_notes_afterwards_and_edit_history(running, demo_sessionmaker):
    w = await _on_patrol(running)
    await w.send("2号楼王大爷说暖气不热")
    await w.send("路灯坏了")
    await w.send("4号楼3单元新搬来一户")
    ended = await w.send("⏹ 结束巡查")
    assert "还有 3 条记录未分类" in texts(ended)

    # Later: open the day, tap a note, tag it as a visit (building, household).
    day = await w.send("/diary")
    assert "📝 有 3 条记录待分类" in day[-1].text
    await w.tap(re.compile(r"^1$"))
    await w.tap("🏠 走访")
    await w.tap("站前小区2号楼")
    tagged = await w.tap("刘福贵")
    assert "已归为走访" in tagged[-1].text and "困难家庭" in tagged[-1].text
    # Tag the second as a problem from the day view.
    await _open_note(w, 2)
    problem = await w.tap("⚠️ 问题")
    assert "已归为问题" in texts(problem)

    # Edit the first note's text through its card: the old text stays in the history.
    await _open_note(w, 1)
    await w.tap("修改内容")
    saved = await w.send("刘福贵家暖气不热，已联系物业")
    assert "已保存" in saved[-1].text
    # An edit of the worker's own Telegram message changes its note too.
    third = (await _entries(demo_sessionmaker, w.id))[2]
    assert third.kind == EntryKind.note
    await w._do(w.emu.edit_user_message(w.user, third.message_id, "4号楼3单元新搬来一户，老两口"))
    await _open_note(w, 1)
    history = await w.tap("修改记录")
    assert "v1" in history[-1].text and "2号楼王大爷说暖气不热" in history[-1].text
    assert "刘福贵家暖气不热，已联系物业" in history[-1].text

    entries = await _entries(demo_sessionmaker, w.id)
    assert [e.kind for e in entries] == [EntryKind.visit, EntryKind.problem, EntryKind.note]
    assert entries[2].text == "4号楼3单元新搬来一户，老两口"
    async with demo_sessionmaker() as s:
        actions = [r.action for r in await s.scalars(
            select(DiaryEntryRevision).where(DiaryEntryRevision.entry_id == entries[0].id)
            .order_by(DiaryEntryRevision.version))]
        assert actions == [RevisionAction.created, RevisionAction.tagged, RevisionAction.edited]
        assert [r.action for r in await s.scalars(select(DiaryEntryRevision).where(
            DiaryEntryRevision.entry_id == entries[2].id))] == [RevisionAction.created, RevisionAction.edited]

    # Delete the same day: asked once, then kept in the history.
    await _open_note(w, 2)
    await w.tap("🗑 删除")
    gone = await w.tap("确认删除")
    assert "已删除" in texts(gone)
    assert (await _entries(demo_sessionmaker, w.id))[1].deleted_at is not None


async def test_grid_head_and_staff_see_the_diaries_and_the_same_numbers(running, demo_sessionmaker):
    w = await _on_patrol(running)
    await w.send("🏠 走访")
    await w.tap("站前小区1号楼")
    await w.tap("孙淑兰")
    await w.send("💬 民意")
    await w.tap("治安安全")
    await w.send("⏹ 结束巡查")

    mine = await w.send("📒 民情日志")
    month = await w.press(mine[-1].message_id, next(d for row in mine[-1].inline_buttons for t, d in row
                                                    if "本月统计" in t))
    worker_numbers = month[-1].text.split("\n", 1)[1]
    assert "🏠 走访：1 次（住户 1 户）" in worker_numbers and "💬 民意：1 条" in worker_numbers

    head = await _worker(running, 7000000013, "李红霞")
    await head.send("📒 民情日志")
    grid = await head.tap("第一网格：日志")
    assert re.search(r"张伟：2 条", grid[-1].text)
    await head.tap("📖 张伟")
    assert "孙淑兰" in head.last.text and "治安安全" in head.last.text
    await head.tap("当月统计")
    assert head.last.text.split("\n", 1)[1] == worker_numbers

    staff = await _worker(running, 7000000002, "刘秀梅")
    await staff.send("📒 民情日志")
    community = await staff.tap("新站社区：日志")
    assert "第一网格：2 条，已记录的网格员 1/3" in community[-1].text
    await staff.tap("👥 新站社区第一网格")
    await staff.tap("📖 张伟")
    await staff.tap("当月统计")
    assert staff.last.text.split("\n", 1)[1] == worker_numbers


async def test_forged_buttons_are_refused(running, demo_sessionmaker):
    w = await _on_patrol(running)
    await w.send("⚠️ 问题")
    await w.send("消防通道被堵")
    entry = (await _entries(demo_sessionmaker, w.id))[0]
    async with demo_sessionmaker() as s:
        other_grid_household = await s.scalar(select(Household).where(Household.code == "DC-XS-02-01-H1"))
        from models import User

        worker_id = await s.scalar(select(User.id).where(User.telegram_id == w.id))
    forged = [f"dy:e:{entry.id}:0:", f"dy:edit:{entry.id}:0:", f"dy:del:{entry.id}:0:", f"dy:delok:{entry.id}:0:",
              f"dy:case:{entry.id}:0:", f"dy:hist:{entry.id}:0:", f"dy:tag:{entry.id}:0:opinion",
              f"dy:day:{worker_id}:0:", f"dy:mon:{worker_id}:0:2026-11"]
    outsiders = {
        "another grid's worker": await _worker(running, 7000000017, "陈静"),
        "another community's staff": await _worker(running, 7000000003, "陈立新"),
        "a resident": await _worker(running, 7000000040, "王桂芝"),
        "a department officer": await _worker(running, 7000000005, "赵海涛"),
    }
    for who, person in outsiders.items():
        for data in forged:
            before = len(running.emu.callback_answers)
            await person.press(person.last.message_id, data)
            answer = person.last_callback_answer()
            assert len(running.emu.callback_answers) == before + 1 and answer.get("show_alert"), (who, data, answer)
        if who != "another grid's worker":  # (who walks a grid of their own)
            await person.press(person.last.message_id, "dy:start:0:0:")
            assert person.last_callback_answer().get("show_alert"), who
    # The worker's own grid head may read but not change; a colleague may not touch it.
    head = await _worker(running, 7000000013, "李红霞")
    await head.press(head.last.message_id, f"dy:e:{entry.id}:0:")
    assert "消防通道被堵" in head.last.text and "修改内容" not in str(head.last.inline_buttons)
    for data in (f"dy:edit:{entry.id}:0:", f"dy:delok:{entry.id}:0:", f"dy:case:{entry.id}:0:"):
        await head.press(head.last.message_id, data)
        assert "只有记录人可以修改" in head.last_callback_answer()["text"]
    colleague = await _worker(running, 7000000015, "王芳")
    await colleague.press(colleague.last.message_id, f"dy:delok:{entry.id}:0:")
    assert "这条日志无法查看" in colleague.last_callback_answer()["text"]
    # A visit to another grid's household by a forged button.
    await w.press(w.last.message_id, f"dy:vh:{other_grid_household.id}:0:")
    assert "这户不在您的台账中" in w.last_callback_answer()["text"]
    # Garbage in a button's fields.
    await w.press(w.last.message_id, "dy:mon:1:0:2026-99")
    assert "按钮已失效" in w.last_callback_answer()["text"]
    await w.press(w.last.message_id, "dy:vc:1:0:99|nonsense")
    assert w.last_callback_answer().get("show_alert")

    entries = await _entries(demo_sessionmaker, w.id)
    assert len(entries) == 1 and entries[0].deleted_at is None and entries[0].case_id is None
    async with demo_sessionmaker() as s:
        assert await s.scalar(select(Case.id)) is None


async def test_residents_still_reach_case_intake_and_menu_labels_are_not_notes(running, demo_sessionmaker):
    # A worker on patrol tapping a menu label gets that feature, not a note.
    w = await _on_patrol(running)
    await w.send("/menu")
    profile = await w.send("👤 我的资料")
    assert "电话：" in texts(profile)
    assert await _entries(demo_sessionmaker, w.id) == []
    # A live location moving updates the patrol without a word from the bot.
    _answer, live_id = await live_location(w, 41.7437, 125.9170)
    before = len(w.messages())
    await move_live_location(w, live_id, 41.7440, 125.9180)
    assert len(w.messages()) == before
    async with demo_sessionmaker() as s:
        patrol = await s.scalar(select(Patrol).where(Patrol.ended_at.is_(None)))
        assert (patrol.last_latitude, patrol.last_longitude) == (41.7440, 125.9180)
    # A resident's free text still goes to case intake (another router), untouched by the diary.
    resident = await _worker(running, 7000000040, "王桂芝")
    answer = await resident.send("楼下的路灯不亮了")
    assert "已存为记录" not in texts(answer)
    async with demo_sessionmaker() as s:
        from models import CaseStatus, User

        resident_id = await s.scalar(select(User.id).where(User.telegram_id == resident.id))
        draft = await s.scalar(select(Case).where(Case.resident_id == resident_id))
        assert draft.status == CaseStatus.draft and "路灯" in draft.description
        assert await s.scalar(select(DiaryEntry.id)) is None
        assert await s.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key.like("diary:%"))) is None


async def test_a_ten_entry_patrol_in_28_taps(running, demo_sessionmaker):
    """The design goal of docs/diary.md: ten entries, each typed or spoken once, ~3 taps of bookkeeping each."""
    w = await _worker(running)
    taps = 0

    async def tap(label):  # type: ignore[no-untyped-def]
        nonlocal taps
        taps += 1
        return await w.tap(label)

    async def key(label):  # type: ignore[no-untyped-def]
        nonlocal taps
        taps += 1
        return await w.send(label)

    await key("📒 民情日志")
    await tap("▶️ 开始巡查")
    for building, household, note in (("站前小区1号楼", "孙淑兰", "血压正常"), ("站前小区1号楼", "周建国", "申请了临时救助"),
                                       ("站前小区2号楼", "王桂芝", "家里暖气正常"), ("站前小区3号楼", "马秀珍", "轮椅坏了")):
        await key("🏠 走访")
        await tap(building)
        await tap(household)
        await w.send(note)
    await key("🏠 走访")
    await tap("站前小区4号楼")
    await tap("3 单元")
    await tap("困难家庭")
    await w.send("新搬来的一户，孩子上学有困难")
    for topic, said in (("环境卫生", "垃圾清运太晚"), ("治安安全", "晚上有陌生人"), ("意见建议", "希望加装健身器材")):
        await key("💬 民意")
        await tap(topic)
        await w.send(said)
    await key("⚠️ 问题")
    await w.send("消防通道被电动车堵了")
    await tap("转为诉求")
    await key("⚠️ 问题")
    await w.send_photo(PNG, "围墙有裂缝")
    await key("⏹ 结束巡查")

    entries = [e for e in await _entries(demo_sessionmaker, w.id) if e.deleted_at is None]
    assert len(entries) == 10 and all(e.kind != EntryKind.note for e in entries)
    assert all(e.text for e in entries)
    # start 2 + ledger visits 4×3 + a visit by unit 4 + opinions 3×2 + problems 2 + a case 1 + end 1
    assert taps == 28, taps


def _next_weekday(after, weekday: int, hour: int, minute: int, tz):  # type: ignore[no-untyped-def]
    """The first ``weekday`` (0 = Monday) strictly after the local date of ``after``, at hour:minute, as UTC."""
    from datetime import UTC, datetime, timedelta

    day = after.astimezone(tz).date() + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return datetime.combine(day, datetime.min.time().replace(hour=hour, minute=minute), tz).astimezone(UTC)


async def test_due_visits_nudges_and_weekly_summary_through_the_delivery_engine(emulator, db_url, demo_sessionmaker):
    """The jobs run with an injected clock; the real delivery engine sends what they queue."""
    from bot.services.diary import jobs as diary_jobs
    from models import utcnow
    from tests.conftest import BOT_TOKEN
    from tests.e2e.conftest import make_settings
    from tests.e2e.harness import start_bot

    settings = make_settings(emulator, db_url, QUIET_HOURS="", JOBS_ENABLED=False, DELIVERY_POLL_INTERVAL=0.1)
    running = await start_bot(emulator, settings, BOT_TOKEN)
    try:
        w = await _worker(running)
        colleague = await _worker(running, 7000000015, "王芳")
        head = await _worker(running, 7000000013, "李红霞")
        sm, tz = running.app.sessionmaker, settings.tz

        # Tuesday morning: the worker's list of households due (all five of the grid: never visited).
        tuesday = _next_weekday(utcnow(), 1, 7, 30, tz)
        assert await diary_jobs.send_due_lists(sm, settings, tuesday) >= 2
        due = await emulator.wait_for_message(w.id, lambda m: "需要走访的住户" in (m.text or ""), timeout=10)
        assert "需要走访的住户（5）" in due.text and "孙淑兰" in due.text and "高德明" not in due.text
        await w.press(due.message_id, "dy:due:0:0:")
        assert "需要走访的住户（5）" in w.last.text
        # From the list to the household, one tap logs the visit; it leaves the list.
        await w.tap("🏠 孙淑兰")
        card = w.last
        assert "独居老人：每周" in card.text and "尚未走访" in card.text
        assert "独居老人：每周" not in str(card.inline_buttons)  # workers do not change tags
        logged = await w.tap("🏠 记录走访")
        assert "走访已记录" in logged[-1].text
        panel = await w.send("📒 民情日志")
        assert "待走访住户（4）" in str(panel[-1].inline_buttons)
        await w.press(w.last.message_id, f"dy:ht:{card.inline_buttons[0][0][1].split(':')[2]}:0:disabled")
        assert w.last_callback_answer().get("show_alert")

        # The grid head changes a tag's interval with one tap, and adds a household.
        await head.send("📒 民情日志")
        await head.tap("📚 住户台账")
        await head.tap("站前小区1号楼")
        await head.tap("孙淑兰")
        cycled = await head.tap("独居老人：每周")
        assert "独居老人：每两周" in cycled[-1].text
        await head.tap("⬅️")
        await head.tap("添加住户")
        added = await head.send("2-101 赵奶奶")
        assert "已加入台账" in added[-1].text and "2-101" in added[-1].text and "赵奶奶" in added[-1].text
        # A new household's sensitive tags wait for its recorded consent (PIPL).
        assert "是否同意我们记录" in added[-1].text and "独居老人" not in str(added[-1].inline_buttons)
        new_id = int(head.find_button("住户已同意")[1].split(":")[2])
        await head.press(added[-1].message_id, f"dy:ht:{new_id}:0:elderly_alone")
        assert "请先问住户" in head.last_callback_answer()["text"]
        agreed = await head.tap("住户已同意")
        assert "独居老人" in str(agreed[-1].inline_buttons)
        tagged = await head.tap("独居老人")
        assert "独居老人：每周" in tagged[-1].text

        # 18:00 that Tuesday, with nothing logged that day: the grid's workers are nudged.
        nudged = await diary_jobs.send_nudges(sm, settings, _next_weekday(utcnow(), 1, 18, 0, tz))
        assert nudged >= 2
        nudge = await emulator.wait_for_message(colleague.id, lambda m: "民情日志还是空的" in (m.text or ""),
                                                timeout=10)
        await colleague.press(nudge.message_id, "dy:panel:0:0:")
        assert "民情日志" in colleague.last.text

        # Monday 08:00: the grid head gets last week's numbers of each worker.
        monday = _next_weekday(utcnow(), 0, 8, 0, tz)
        assert await diary_jobs.send_weekly_summaries(sm, settings, monday) >= 1
        summary = await emulator.wait_for_message(head.id, lambda m: "民情日志，" in (m.text or ""), timeout=10)
        assert "张伟</b>" not in summary.text  # HTML was rendered, not shown
        assert "张伟：0 次巡查" in summary.text and "1 次走访" in summary.text and "王芳：未记录" in summary.text
    finally:
        await running.stop()


async def test_patrol_conversations_with_state_in_redis(emulator, db_url, demo_sessionmaker, redis_url):
    from tests.conftest import BOT_TOKEN
    from tests.e2e.conftest import make_settings
    from tests.e2e.harness import start_bot

    running = await start_bot(emulator, make_settings(emulator, db_url, REDIS_URL=redis_url), BOT_TOKEN)
    try:
        w = await _on_patrol(running)
        await w.send("💬 民意")
        await w.tap("邻里纠纷")
        assert "已补充" in texts(await w.send("楼上漏水，两家有矛盾"))
        await w.tap("居民姓名")
        await w.send("李大姐")
        note = await w.send("健身器材松了")
        assert "已存为记录" in texts(note)
        await w.send("⏹ 结束巡查")
    finally:
        await running.stop()
    entries = await _entries(demo_sessionmaker, w.id)
    assert [(e.kind, e.text, e.resident_name) for e in entries] == [
        (EntryKind.opinion, "楼上漏水，两家有矛盾", "李大姐"), (EntryKind.note, "健身器材松了", None)]
