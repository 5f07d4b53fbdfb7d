"""Each of the organisation's new roles, and a stranger, pressing the buttons of every
other new role (callback data can be forged): each press is refused with an alert and
changes nothing.  A building head, a unit head, a volunteer, a resident and someone new
who only agreed to the privacy notice; the buttons of heads (file for a neighbour),
errand owners and volunteers (offer, take, done), service-day staff (announce,
attendance), consultation askers (ask, scope), family links (allow, end) and chat
invites (building and unit heads, volunteers)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.services import cases, events, family
from bot.services.invites import create_invite, redeem_invite
from models import (
    Building,
    Case,
    CaseStatus,
    Community,
    Consultation,
    ErrandOffer,
    EventAudience,
    EventSignup,
    FamilyLink,
    FamilyLinkStatus,
    Invite,
    Role,
    User,
    utcnow,
)
from tests.e2e.cases.helpers import RESIDENT, SECRETARY, WORKER, person, zh
from tests.e2e.org.helpers import accepted_errand

NEIGHBOUR_WITHOUT_TG = "赵大爷"


async def _joined(bot, telegram_id: int, name: str, role: Role, scope: str):  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        invite = await create_invite(s, role=role, scope_code=scope)
        await s.commit()
    p = person(bot, telegram_id, name)
    await p.send(f"/start {invite.payload}")
    return p


async def _world(bot) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """What the forged buttons name: a neighbour without Telegram of 站前小区2号楼, an errand
    offered to Xinzhan's volunteer, a service day with a seat, a pending family link, the
    community and a building."""
    settings, now = bot.app.settings, utcnow()
    case_id = await accepted_errand(bot)
    async with bot.app.sessionmaker() as s:
        resident = await s.scalar(select(User).where(User.telegram_id == RESIDENT))
        worker = await s.scalar(select(User).where(User.telegram_id == WORKER))
        secretary = await s.scalar(select(User).where(User.telegram_id == SECRETARY))
        building = await s.scalar(select(Building).where(Building.code == "DC-XS-01-02"))
        community = await s.scalar(select(Community).where(Community.code == "DC-XS"))
        neighbour = User(telegram_id=None, first_name=NEIGHBOUR_WITHOUT_TG, phone="13800001111",
                         building_id=building.id, grid_id=building.grid_id, registered_at=now, roles=[])
        s.add(neighbour)
        helper = User(telegram_id=8800000010, first_name="新站志愿者", locale="zh-Hans", registered_at=now, roles=[])
        s.add(helper)
        await s.flush()
        await redeem_invite(s, helper, (await create_invite(s, role=Role.volunteer, scope_code="DC-XS")).payload)
        await cases.offer_errand(s, settings, worker, case_id, share_phone=True, now=now)
        offer = await s.scalar(select(ErrandOffer).where(ErrandOffer.case_id == case_id))
        event = await events.announce(s, settings, secretary, community.id,
                                      events.Draft("义诊", now + timedelta(days=2), "新站", 5, 2),
                                      EventAudience.both, now)
        await events.sign_up(s, resident, event.id, now)
        signup = await s.scalar(select(EventSignup.id).where(EventSignup.event_id == event.id))
        await family.create_invite(s, resident, now)
        link = await s.scalar(select(FamilyLink))
        link.status, link.delegate_id = FamilyLinkStatus.pending, worker.id  # opened, awaiting her answer
        await s.commit()
        return {"neighbour": neighbour.id, "case": case_id, "offer": offer.id, "event": event.id,
                "signup": signup, "link": link.id, "community": community.id, "building": building.id,
                "resident": resident.id}


async def _state(bot) -> tuple:  # type: ignore[no-untyped-def]
    """Everything a forged press could change."""
    async with bot.app.sessionmaker() as s:
        offer = await s.scalar(select(ErrandOffer))
        return (
            await s.scalar(select(func.count()).select_from(Case)),
            await s.scalar(select(Case.status).where(Case.id == offer.case_id)),
            offer.taken_by_id, offer.done_at,
            await s.scalar(select(func.count()).select_from(Invite)),
            await s.scalar(select(func.count()).select_from(Consultation)),
            tuple(await s.scalars(select(EventSignup.attended).order_by(EventSignup.id))),
            tuple(await s.scalars(select(FamilyLink.status).order_by(FamilyLink.id))),
        )


async def test_every_new_role_and_a_stranger_are_refused_each_others_buttons(bot):
    ids = await _world(bot)
    head = await _joined(bot, 8800000001, "周楼长", Role.building_head, "DC-LQ-01-01")  # another grid's building
    unit_head = await _joined(bot, 8800000002, "吴单元长", Role.unit_head, "DC-XS-01-02/3")  # not the neighbour's
    volunteer = await _joined(bot, 8800000003, "民主志愿者", Role.volunteer, "DC-MZ")  # another community
    resident = person(bot, RESIDENT)
    await resident.send("/start")
    stranger = person(bot, 8800000004, "路人")
    await stranger.send("/start")
    await stranger.tap(zh("✅ I agree"))
    before = await _state(bot)

    forged = [
        "og:file:0", "og:fnew:0", f"og:fp:{ids['neighbour']}",  # a head filing for a neighbour
        f"og:vo0:{ids['case']}", f"og:vo1:{ids['case']}", f"cs:vol:{ids['case']}:0",  # the errand's owner
        f"er:take:{ids['offer']}", f"er:view:{ids['offer']}", f"er:done:{ids['offer']}",  # a volunteer
        f"ev:new:{ids['community']}:0", f"ev:att:{ids['event']}:0", f"ev:here:{ids['signup']}:1",  # staff
        "cq:new:0:0", f"cqs:community:{ids['community']}:1",  # a consultation's asker
        f"fm:ok:{ids['link']}:0", f"fm:end:{ids['link']}:0", f"fm:cases:0:{ids['resident']}",  # family
        f"inv:building_head:{ids['building']}", f"inv:unit_head:{ids['building'] * 1000 + 1}",  # invites
        f"inv:volunteer:{ids['community']}",
    ]
    refused: dict[str, list[str]] = {}
    for who in (head, unit_head, volunteer, resident, stranger):
        for data in forged:
            if who is resident and data.startswith(("fm:ok:", "fm:end:", "fm:cases:")):
                continue  # her own link: hers to answer
            if who in (head, unit_head) and data in ("og:file:0", "og:fnew:0"):
                continue  # their own buttons (whom they may file for is checked below)
            await who.forge(data)
            answer = who.last_callback_answer()
            if not (answer["show_alert"] and answer["text"]):
                refused.setdefault(who.user.first_name, []).append(data)
    assert refused == {}, f"accepted or answered silently: {refused}"
    assert await _state(bot) == before
    # The unit head of unit 3 does not reach the neighbour of the building (no unit known), nor does
    # the building head of another grid: their "file for a neighbour" lists show nobody.
    for who in (head, unit_head):
        listing = await who.from_menu(zh("🏢 My building"))
        shown = await who.tap_in(listing[-1], zh("📝 File for a neighbour"))
        assert NEIGHBOUR_WITHOUT_TG not in str(shown[-1].inline_buttons)
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(Case.status).where(Case.id == ids["case"])) == CaseStatus.accepted
