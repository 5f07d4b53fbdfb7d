"""Volunteers and proxy errands, end to end through the emulator: the worker
who owns a proxy errand offers it to the community's volunteers; two
volunteers press Take at the same moment and exactly one gets it; the
resident hears that a volunteer is helping, never who; the volunteer sees no
phone unless the worker shared it; the worker stays the owner.  Forged and
outside presses are refused."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.services import cases
from bot.services.invites import create_invite
from models import (
    AccessAction,
    AccessLog,
    CaseEvent,
    CaseEventType,
    CaseStatus,
    ErrandOffer,
    Role,
    User,
    utcnow,
)
from tests.e2e.cases.helpers import RESIDENT, WORKER, people, person, tap_card, zh
from tests.e2e.org.helpers import accepted_errand

PHONE = "13904353001"  # 王桂芝's, data/demo_district.yaml


async def _volunteer(bot, telegram_id: int, name: str, community: str = "DC-XS"):  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        invite = await create_invite(s, role=Role.volunteer, scope_code=community)
        await s.commit()
    p = person(bot, telegram_id, name)
    await p.send(f"/start {invite.payload}")
    assert zh("🙋 My errands") in p.reply_keyboard()
    return p


async def test_two_volunteers_race_for_an_errand(bot):
    case_id = await accepted_errand(bot)
    first = await _volunteer(bot, 8500000001, "志愿者甲")
    second = await _volunteer(bot, 8500000002, "志愿者乙")
    elsewhere = await _volunteer(bot, 8500000003, "民主志愿者", community="DC-MZ")
    worker, resident = people(bot, WORKER, RESIDENT)
    await worker.send("/start")
    card = await worker.press(worker.last.message_id, f"cs:view:{case_id}:0")
    ask = await tap_card(worker, card[-1], zh("🙋 Offer to volunteers"))
    done = await worker.tap_in(ask[-1], zh("🙅 No phone needed"))
    assert "2" in done[-1].text  # the two volunteers of Xinzhan, not Minzhu's

    offers = [await v.received(zh("🙋 Take it").split()[-1]) for v in (first, second)]
    for offer in offers:
        assert "社保局" not in offer.text and PHONE not in offer.text  # before taking: no request, no phone
    assert not any(zh("🙋 Take it") in str(m.inline_buttons) for m in elsewhere.messages())
    mark_worker, mark_resident = worker.last_id, resident.last_id

    # Both press Take at the same moment: exactly one gets it.
    take = [next(d for row in o.inline_buttons for t, d in row if d.startswith("er:take:")) for o in offers]
    await asyncio.gather(first.press(offers[0].message_id, take[0]), second.press(offers[1].message_id, take[1]))
    async with bot.app.sessionmaker() as s:
        offer = await s.scalar(select(ErrandOffer).where(ErrandOffer.case_id == case_id))
        winner_id = offer.taken_by_id
        users = {u.telegram_id: u.id for u in await s.scalars(select(User).where(
            User.telegram_id.in_([first.id, second.id])))}
    winner, loser = (first, second) if winner_id == users[first.id] else (second, first)
    assert winner_id in users.values()
    lost = [a for a in bot.emu.callback_answers if a["chat_id"] == loser.id][-1]
    assert lost["show_alert"] and zh("Another volunteer has already taken errand {number}. Thank you!")[:4] in lost["text"]
    lost_offer = next(m for m in loser.messages() if m.message_id == (offers[0] if loser is first else offers[1]).message_id)
    assert lost_offer.inline_buttons == []  # no "Take it" left on the errand they lost
    card = await winner.received("社保局")
    assert PHONE not in card.text  # the worker said no phone is needed

    # The resident is told a volunteer helps, without a name; the worker is told who, and still owns it.
    told = await resident.received(zh("volunteer") if zh("volunteer") != "volunteer" else "volunteer",
                                   after=mark_resident)
    assert "志愿者甲" not in told.text and "志愿者乙" not in told.text
    await worker.received(winner.user.first_name, after=mark_worker)
    async with bot.app.sessionmaker() as s:
        case = await cases.view(s, await s.get(User, offer.offered_by_id), case_id, "zh-Hans", utcnow())
        assert case.case.owner_id == offer.offered_by_id and case.case.status == CaseStatus.accepted
        helping = await s.scalar(select(CaseEvent).where(CaseEvent.case_id == case_id,
                                                         CaseEvent.type == CaseEventType.volunteer_helping))
        assert helping.public and helping.actor_id == winner_id

    # The loser and an outsider cannot open it; a forged take by a resident is refused.
    await loser.press(offers[1].message_id if loser is second else offers[0].message_id, f"er:view:{offer.id}")
    assert loser.last_callback_answer()["show_alert"]
    await elsewhere.press(elsewhere.last_id, f"er:take:{offer.id}")
    assert elsewhere.last_callback_answer()["show_alert"]
    await resident.press(resident.last_id, f"er:take:{offer.id}")
    assert resident.last_callback_answer()["show_alert"]

    # The volunteer reports their part done; the worker is asked to check and close.
    mark_worker = worker.last_id
    await winner.tap_in(card, zh("✅ My part is done"))
    await worker.received(zh("volunteer") if zh("volunteer") != "volunteer" else "volunteer", after=mark_worker)
    async with bot.app.sessionmaker() as s:
        assert (await s.get(ErrandOffer, offer.id)).done_at is not None
        assert await s.scalar(select(AccessLog).where(AccessLog.actor_id == winner_id,
                                                      AccessLog.action == AccessAction.phone_viewed)) is None


async def test_a_shared_phone_is_shown_and_logged(bot):
    case_id = await accepted_errand(bot)
    helper = await _volunteer(bot, 8500000011, "志愿者丙")
    worker = person(bot, WORKER)
    await worker.send("/start")
    card = await worker.press(worker.last.message_id, f"cs:view:{case_id}:0")
    ask = await tap_card(worker, card[-1], zh("🙋 Offer to volunteers"))
    await worker.tap_in(ask[-1], zh("📞 Yes, share the phone"))
    # Offered twice: refused, nothing new is sent.
    await worker.press(ask[-1].message_id, f"og:vo0:{case_id}")
    assert worker.last_callback_answer()["show_alert"]
    offer = await helper.received(zh("🙋 Take it").split()[-1])
    await helper.tap_in(offer, zh("🙋 Take it"))
    shown = await helper.received(PHONE)
    assert "社保局" in shown.text
    async with bot.app.sessionmaker() as s:
        me = await s.scalar(select(User).where(User.telegram_id == helper.id))
        logged = await s.scalar(select(AccessLog).where(AccessLog.actor_id == me.id,
                                                        AccessLog.action == AccessAction.phone_viewed))
    assert logged is not None and logged.object_id == case_id
    # A resident's forged offer button on someone else's case is refused.
    resident = person(bot, RESIDENT)
    await resident.send("/start")
    await resident.press(resident.last_id, f"og:vo1:{case_id}")
    assert resident.last_callback_answer()["show_alert"]
