"""A staff member broadcasts to a grid from chat and watches it progress;
residents confirm; forged buttons are refused.  The real bot and the emulator."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from bot.delivery.progress import BcCtlCb
from handlers.callbacks import BcAckCb, BcScopeCb
from models import (
    Broadcast,
    BroadcastAck,
    BroadcastStatus,
    Building,
    Grid,
    OutboxMessage,
    OutboxStatus,
    User,
    utcnow,
)
from tests.delivery.conftest import settled, wait_rows

STAFF_XS, STAFF_MZ, RESIDENT_XS01, RESIDENT_MZ = 7000000002, 7000000003, 7000000040, 7000000042


async def _setup(running, sessionmaker):
    emu = running.emu
    async with sessionmaker() as s:
        await s.execute(update(User).where(User.telegram_id.in_([STAFF_XS, STAFF_MZ])).values(locale="en"))
        building = await s.scalar(select(Building).where(Building.code == "DC-XS-01-01"))
        for i, locale in enumerate(("zh-Hans", "en", "zh-Hant")):
            s.add(User(telegram_id=8300000000 + i, first_name=f"居民{i}", locale=locale, building_id=building.id,
                       grid_id=building.grid_id, registered_at=utcnow(), roles=[]))
        await s.commit()
    people = {t: emu.create_user(first_name=str(t), user_id=t, language_code="en")
              for t in (STAFF_XS, STAFF_MZ, RESIDENT_XS01, RESIDENT_MZ, 8300000000, 8300000001, 8300000002)}
    return {t: running.person(u) for t, u in people.items()}


async def test_staff_broadcasts_to_a_grid_and_watches_it(running, demo_sessionmaker):
    sm = demo_sessionmaker
    p = await _setup(running, sm)
    staff = p[STAFF_XS]
    answer = await staff.from_menu("📢 Send a notice")
    assert "Send the notice" in answer[-1].text
    assert answer[-1].inline_buttons == [[("❌ Cancel", "nav:cancel")]]  # no "/cancel" to type (issue 20)
    answer = await staff.send("<b>Water</b> is off tomorrow 9:00-12:00.")
    assert "Who should receive it?" in answer[-1].text
    steps = [answer[-1]]
    steps.append((await staff.tap("Xinzhan Grid 1"))[-1])
    answer = await staff.tap("All of Xinzhan Grid 1")
    assert "which people?" in answer[-1].text
    steps.append(answer[-1])
    steps.append((await staff.tap("Residents"))[-1])
    # Every step of the composer can be left (❌ Cancel), the ones after the scope can go back to it.
    for step in steps:
        assert "❌ Cancel" in [t for t, _d in step.inline_buttons[-1]], step.inline_buttons
    answer = await staff.tap("Yes, ask them to confirm")
    preview, summary = answer[-2], answer[-1]
    # What the staff member typed is shown as typed (their "<b>" is text, not markup).
    assert preview.text == "<b>Water</b> is off tomorrow 9:00-12:00."
    assert preview.inline_buttons == [[("✅ I have read it", "noop")]]
    assert "Recipients: 4" in summary.text  # three added residents and the demo one
    answer = await staff.tap("Send now")
    progress = answer[-1]
    assert re.search(r"Notice #\d+", progress.text) and "Sent: " in progress.text
    residents = [p[t] for t in (RESIDENT_XS01, 8300000000, 8300000001, 8300000002)]
    emu = running.emu
    await emu.wait_for(lambda: all(r.messages() for r in residents), timeout=10)
    assert p[RESIDENT_MZ].messages() == []  # another community
    by_locale = {r.id: r.last.inline_buttons[0][0][0] for r in residents}
    assert by_locale[8300000001] == "✅ I have read it"
    assert by_locale[8300000000] != by_locale[8300000001]  # rendered in the recipient's language
    # Each notice says who sends it: the community the staff member speaks for, never the person (issue 20).
    assert residents[1].last.text == "📢 来自新站社区的通知\n\n<b>Water</b> is off tomorrow 9:00-12:00."
    assert residents[2].last.text.startswith("📢 Notice from Xinzhan Community\n\n")
    assert not [r for r in residents if "刘秀梅" in r.last.text or str(STAFF_XS) in r.last.text]

    async with sm() as s:
        broadcast = await s.scalar(select(Broadcast).order_by(Broadcast.id.desc()))
    bid = broadcast.id
    # A recipient confirms; a double tap is harmless.
    await residents[2].tap("I have read it")
    assert "Noted" in running.emu.callback_answers[-1].get("text", "")
    assert residents[2].last.inline_buttons == [[("✅ Read", "noop")]]
    await residents[2].press(residents[2].last.message_id, BcAckCb(id=bid).pack())
    assert "Already noted" in running.emu.callback_answers[-1].get("text", "")
    # Forged buttons: a non-recipient acknowledging, another community's staff pausing,
    # and a staff member opening another community.
    for person, data in ((p[RESIDENT_MZ], BcAckCb(id=bid).pack()), (p[STAFF_MZ], BcCtlCb(action="pause", id=bid).pack())):
        action = await emu.press_button(person.user, 1, data, allow_missing=True)
        await running.settle(action)
        assert running.emu.callback_answers[-1].get("show_alert") is True
    async with sm() as s:
        assert len(list(await s.scalars(select(Broadcast)))) == 1
    async with sm() as s:
        acks = list(await s.scalars(select(BroadcastAck.user_id)))
        assert len(acks) == 1
        assert (await s.get(Broadcast, bid)).status == BroadcastStatus.active

    await wait_rows(sm, lambda rows: settled([r for r in rows if r.broadcast_id == bid]))
    await running.app.delivery.monitor.tick()
    await emu.wait_for(lambda: "finished" in emu.message(staff.id, progress.message_id).text, timeout=10)
    final = emu.message(staff.id, progress.message_id).text
    assert "Sent: 4 of 4" in final and "Confirmed as read: 1" in final
    report = await emu.wait_for_message(staff.id, lambda m: "Delivery report" in (m.text or ""), timeout=10)
    assert "Delivered: 4 of 4" in report.text


async def test_forged_scope_button_and_pause_resume(running, demo_sessionmaker):
    sm = demo_sessionmaker
    p = await _setup(running, sm)
    staff = p[STAFF_XS]
    await staff.send("/broadcast")
    await staff.send("Meeting at the station at 19:00.")
    async with sm() as s:
        mz_grid = await s.scalar(select(Grid.id).where(Grid.code == "DC-MZ-01"))
    forged = BcScopeCb(type="grid", id=mz_grid, pick=1).pack()
    action = await running.emu.press_button(staff.user, staff.last.message_id, forged)
    await running.settle(action)
    answer = running.emu.callback_answers[-1]
    assert answer.get("show_alert") is True and "not allowed" in answer.get("text", "")
    # The choice goes on normally after the refusal.
    await staff.tap("All of Xinzhan Community")
    await staff.tap("Residents and grid workers")
    await staff.tap("No")
    summary = staff.last
    assert "Recipients:" in summary.text
    # Pause at once (the schedule makes it wait), then resume and cancel.
    await staff.tap("Schedule")
    answer = await staff.send("2020-01-01 08:00")
    assert "already passed" in answer[-1].text
    await staff.tap("Tomorrow 08:00")
    confirm_msg, confirm_data = staff.find_button("Confirm the schedule")
    answer = await staff.press(confirm_msg.message_id, confirm_data)
    progress = answer[-1]
    assert "scheduled for" in progress.text
    await staff.tap("Pause")
    assert "paused" in running.emu.message(staff.id, progress.message_id).text
    await staff.tap("Resume")
    await staff.tap("Cancel the notice")
    text = running.emu.message(staff.id, progress.message_id).text
    assert "cancelled" in text and "Not sent (cancelled)" in text
    async with sm() as s:
        statuses = set(await s.scalars(select(OutboxMessage.status).where(OutboxMessage.broadcast_id.is_not(None))))
    assert statuses == {OutboxStatus.cancelled}
    # Pressing send again after it was queued (a double tap): a stale button, nothing queued twice.
    await staff.press(confirm_msg.message_id, confirm_data)
    assert running.emu.callback_answers[-1].get("show_alert") is True
    async with sm() as s:
        assert len(list(await s.scalars(select(Broadcast)))) == 1


async def test_blocking_and_unblocking_the_bot_is_recorded(running, demo_sessionmaker):
    import asyncio

    p = await _setup(running, demo_sessionmaker)
    resident = p[RESIDENT_XS01]
    await resident.send("/start")

    async def unreachable() -> bool:
        async with demo_sessionmaker() as s:
            return (await s.scalar(select(User).where(User.telegram_id == RESIDENT_XS01))).unreachable

    for blocked in (True, False):
        (running.emu.block if blocked else running.emu.unblock)(resident.user, notify=True)
        for _ in range(200):
            if await unreachable() is blocked:
                break
            await asyncio.sleep(0.02)
        assert await unreachable() is blocked
