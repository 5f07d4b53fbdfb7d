"""Building and unit heads, end to end through the emulator: a building head
joins by invite, receives a notice sent to the building and, a day later, the
neighbours who have not confirmed it; files a case for a neighbour without
Telegram; confirms a claimed address; the grid's worker sees the heads on the
building's card.  A unit head's scope, and refusals of forged buttons."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from bot.services.invites import create_invite
from handlers.diary.ui import DiaryCb
from models import (
    UNIT_FACTOR,
    Appointment,
    Broadcast,
    Building,
    Case,
    CaseEvent,
    CaseEventType,
    Role,
    RoleGrant,
    ScopeType,
    User,
    utcnow,
)
from tests.e2e.broadcast.helpers import address_notice
from tests.e2e.cases.helpers import (
    NUMBER_RE,
    RESIDENT,
    SECRETARY,
    WORKER,
    people,
    person,
    run_job,
    zh,
)

BUILDING = "DC-XS-01-02"  # 站前小区2号楼, 4 units; 王桂芝 (RESIDENT) lives there


async def _invite(bot, role: Role, scope: str) -> str:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        created = await create_invite(s, role=role, scope_code=scope)
        await s.commit()
    return created.payload


async def _user(bot, telegram_id: int) -> User:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        user = await s.scalar(select(User).where(User.telegram_id == telegram_id))
        assert user is not None
        return user


async def test_building_head_notice_followup_case_and_claims(bot):
    async with bot.app.sessionmaker() as s:
        building = await s.scalar(select(Building).where(Building.code == BUILDING))
        await s.execute(update(User).where(User.telegram_id == SECRETARY).values(locale="en"))
        await s.execute(update(User).where(User.telegram_id == RESIDENT).values(unit=2))
        # A neighbour of unit 1 on the bot, and one who claims the building (not yet confirmed).
        s.add(User(telegram_id=8400000001, first_name="孙大妈", locale="zh-Hans", building_id=building.id,
                   grid_id=building.grid_id, unit=1, registered_at=utcnow(), home_confirmed_at=utcnow(), roles=[]))
        s.add(User(telegram_id=8400000002, first_name="新来的", locale="zh-Hans", building_id=building.id,
                   grid_id=building.grid_id, registered_at=utcnow(), roles=[]))
        await s.commit()

    # The building head and a unit head (unit 2) join by invite.
    head = person(bot, 8400000100, "周楼长")
    answer = await head.send(f"/start {await _invite(bot, Role.building_head, BUILDING)}")
    assert zh("building head") in answer[0].text and "站前小区2号楼" in answer[0].text  # the place by its name
    assert zh("🏢 My building") in head.reply_keyboard()
    assert zh("🤝 Book for a resident") in head.reply_keyboard()
    unit_head = person(bot, 8400000101, "吴单元长")
    await unit_head.send(f"/start {await _invite(bot, Role.unit_head, BUILDING.lower() + ' / 2')}")
    grant = (await _user(bot, unit_head.id)).roles[0]
    assert (grant.role, grant.scope_type, grant.scope_id) == (Role.unit_head, ScopeType.unit,
                                                               building.id * UNIT_FACTOR + 2)
    mine = await unit_head.send(zh("🏢 My building"))
    assert "2" in mine[-1].text and zh("📝 File for a neighbour") in str(mine[-1].inline_buttons)

    # The community secretary sends an important notice to the building, from chat. The
    # resident is on Telegram before it goes (the sender, woken at once, does not wait).
    resident, secretary = people(bot, RESIDENT, SECRETARY)
    await secretary.send("/start")
    await address_notice(secretary, "Water is off tomorrow 9:00-12:00.", "Zhanqian Estate, Building 2")
    answer = await secretary.tap("Yes, ask them to confirm")
    await secretary.tap("Send now")
    for p in (head, unit_head, resident):
        await p.received("Water is off tomorrow")
    async with bot.app.sessionmaker() as s:
        notice = await s.scalar(select(Broadcast).order_by(Broadcast.id.desc()))
    # Nobody confirms; a day later each head gets their own neighbours, names without phones.
    mark_head, mark_unit = head.last_id, unit_head.last_id
    await run_job(bot, "broadcast_ack_followups", notice.followup_at + timedelta(minutes=1))
    listing = await head.received(f"#{notice.id}", after=mark_head)
    assert "王桂芝" in listing.text and "孙大妈" in listing.text and "1390435" not in listing.text
    unit_listing = await unit_head.received(f"#{notice.id}", after=mark_unit)
    assert "王桂芝" in unit_listing.text and "孙大妈" not in unit_listing.text  # unit 1 is not theirs

    # The head files a case for a neighbour without Telegram.
    worker = person(bot, WORKER)
    mark_worker = worker.last_id
    await head.from_menu(zh("🏢 My building"))
    await head.tap(zh("📝 File for a neighbour"))
    await head.tap(zh("➕ Someone new"))
    await head.send("赵大爷")
    where = await head.send("138 0000 1111")  # a building of 4 units: which one, in one tap
    assert where[-1].text == zh("Where does {name} live?").format(name="赵大爷")
    assert len(where[-1].inline_buttons) == 5  # units 1-4 and "unit not known"
    await head.tap_in(where[-1], zh("{building}, unit {units}").format(building="站前小区2号楼", units=1))
    done = await head.send("厨房水管漏水，需要人来修")
    number = NUMBER_RE.search(done[-1].text).group(0)
    await worker.received(number, after=mark_worker)  # the grid's workers are told, as for any new case
    async with bot.app.sessionmaker() as s:
        case = await s.scalar(select(Case).where(Case.number == number))
        neighbour = await s.get(User, case.resident_id)
        submitted = await s.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                           CaseEvent.type == CaseEventType.submitted))
    assert (neighbour.telegram_id, neighbour.first_name, neighbour.building_id, neighbour.unit) == (
        None, "赵大爷", building.id, 1)
    assert submitted.actor_role.value == "building_head" and submitted.data["on_behalf"] is True
    assert case.building_id == building.id and case.description == "厨房水管漏水，需要人来修"
    # The worker's card names the head as who filed it, and counts no neighbour who "also reported" it
    # (the head follows the case to pass the news on, but reported nothing of their own).
    card = await worker.press(worker.last_id, f"cs:view:{case.id}:0")
    assert "周楼长" in card[-1].text and "赵大爷" in card[-1].text
    also = zh.ngettext("👥 Also reported by {count} neighbour", "👥 Also reported by {count} neighbours", 1)
    assert also.split("{")[0] not in card[-1].text and also.split("{")[0] != "👥 Also reported by "

    # The head books an appointment at the station for the same neighbour: a proxy booking, theirs.
    people_list = await head.from_menu(zh("🤝 Book for a resident"))
    await head.tap_in(people_list[-1], "赵大爷")
    card = (await head.tap(zh("📅 Book an appointment")))[-1]
    for label, prefix in (("预约到站办事", None), ("新站", None), (None, "ap:day:"), (None, "ap:tm:"),
                          (zh("✅ Confirm"), None)):
        data = next(d for row in card.inline_buttons for t, d in row
                    if d and ((label and label in t) or (prefix and d.startswith(prefix))))
        card = next(m for m in await head.press(card.message_id, data) if m.message_id == card.message_id)
    assert "赵大爷" in card.text
    async with bot.app.sessionmaker() as s:
        booking = await s.scalar(select(Appointment).where(Appointment.resident_id == neighbour.id))
        head_user = await s.scalar(select(User).where(User.telegram_id == head.id))
    assert booking is not None and booking.proxy and booking.booked_by_id == head_user.id
    # Someone new to book for: the head says where they live, as when filing.
    people_list = await head.from_menu(zh("🤝 Book for a resident"))
    await head.tap_in(people_list[-1], zh("➕ Someone new"))
    await head.send("钱奶奶")
    where = await head.send("13800002222")
    assert where[-1].text == zh("Where does {name} live?").format(name="钱奶奶")
    shown = await head.tap_in(where[-1], zh("{building}, unit not known").format(building="站前小区2号楼"))
    assert any("钱奶奶" in (m.text or "") for m in shown)
    async with bot.app.sessionmaker() as s:
        granny = await s.scalar(select(User).where(User.first_name == "钱奶奶"))
    assert (granny.building_id, granny.unit, granny.telegram_id) == (building.id, None, None)
    await head.press(where[-1].message_id, where[-1].inline_buttons[0][0][1])  # a second tap: nothing new
    assert head.last_callback_answer()["show_alert"]

    # The unit head (of unit 2) may not act for that neighbour of unit 1: refused, as if absent.
    await unit_head.press(unit_head.last.message_id, f"og:fp:{neighbour.id}")
    assert unit_head.last_callback_answer()["show_alert"]

    # The head confirms the neighbour who claims the building.
    claimant = await _user(bot, 8400000002)
    mine = await head.from_menu(zh("🏢 My building"))
    assert zh("🏠 Confirm addresses") in str(mine[-1].inline_buttons)
    await head.tap(zh("🏠 Confirm addresses"))
    await head.tap("新来的")
    assert (await _user(bot, 8400000002)).home_confirmed_by_id == (await _user(bot, head.id)).id
    assert claimant.home_confirmed_at is None

    # The grid's worker sees the heads on the building's card.
    await worker.send("/start")
    card = await worker.press(worker.last.message_id, DiaryCb(action="lb", id=building.id).pack())
    assert "周楼长" in card[-1].text and "吴单元长" in card[-1].text


async def test_heads_are_refused_outside_their_scope(bot):
    async with bot.app.sessionmaker() as s:
        other = await s.scalar(select(Building).where(Building.code == "DC-LQ-01-01"))
        resident = await s.scalar(select(User).where(User.telegram_id == RESIDENT))
        await s.execute(update(User).where(User.id == resident.id).values(home_confirmed_at=None))
        await s.commit()
    head = person(bot, 8400000200, "外楼长")
    await head.send(f"/start {await _invite(bot, Role.building_head, 'DC-LQ-01-01')}")
    msg = head.last.message_id
    # Another building's claim, and a forged file button for a stranger.
    await head.press(msg, f"hm:ok:{resident.id}")
    assert head.last_callback_answer()["show_alert"]
    await head.press(msg, f"og:fp:{resident.id}")
    assert head.last_callback_answer()["show_alert"]
    assert (await _user(bot, RESIDENT)).home_confirmed_at is None
    # A resident is no head: the buttons and the menu word do nothing for them.
    plain = person(bot, RESIDENT)
    await plain.send("/start")
    await plain.press(plain.last.message_id, "og:file:0")
    assert plain.last_callback_answer()["show_alert"]
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(RoleGrant).where(RoleGrant.user_id == resident.id)) is None
        grants = list(await s.scalars(select(RoleGrant.scope_id).where(RoleGrant.role == Role.building_head)))
    assert grants == [other.id]
    # A unit beyond the building's units cannot be invited to.
    async with bot.app.sessionmaker() as s:
        try:
            await create_invite(s, role=Role.unit_head, scope_code="DC-LQ-01-01/99")
        except Exception as exc:  # noqa: BLE001
            assert getattr(exc, "code", "") == "scope"
        else:
            raise AssertionError("a unit that does not exist was accepted")
