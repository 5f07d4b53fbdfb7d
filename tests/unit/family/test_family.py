"""The family service's rules: a one-time hashed link valid 24 hours, the resident's
confirmation, who may act for whom, either side ending it, and the copies of the
resident's reminders (bot.services.notify)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import broadcasts, family
from bot.services.broadcasts.notices import due_followups
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.notify import notify
from models import BroadcastAudience, BroadcastScope, FamilyLink, OutboxKind, OutboxMessage
from tests.factories import SETTINGS, shanghai
from tests.unit.cases.world import make_world

T0 = shanghai(12, 1, 9)


async def test_link_confirm_act_and_end(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        mother, son, stranger = w.resident, w.stranger, w.neighbour
        token = await family.create_invite(s, mother, T0)
        assert token not in (await s.scalar(select(FamilyLink.token_hash)))
        with pytest.raises(InvalidInput):
            await family.open_invite(s, SETTINGS, mother, family.TOKEN_PREFIX + token, T0)
        link = await family.open_invite(s, SETTINGS, son, family.TOKEN_PREFIX + token, T0)
        with pytest.raises(Conflict):  # used once
            await family.open_invite(s, SETTINGS, stranger, family.TOKEN_PREFIX + token, T0)
        with pytest.raises(NotFound):
            await family.open_invite(s, SETTINGS, stranger, "fam_nonsense", T0)
        assert not await family.is_delegate(s, son.id, mother.id)  # not before she confirms
        for actor in (son, stranger):
            with pytest.raises(NotFound):
                await family.answer_request(s, SETTINGS, actor, link.id, True, T0)
        await family.answer_request(s, SETTINGS, mother, link.id, True, T0)
        assert (await family.principal(s, son, mother.id)).id == mother.id
        with pytest.raises(NotAllowed):
            await family.principal(s, stranger, mother.id)
        # Her reminders reach both; she may choose to let only him get them.
        await notify(s, recipient=mother, kind=OutboxKind.reminder, dedupe_key="t:1", text="提醒")
        await family.set_copies(s, mother, link.id, False)
        await notify(s, recipient=mother, kind=OutboxKind.reminder, dedupe_key="t:2", text="提醒")
        await notify(s, recipient=mother, kind=OutboxKind.emergency, dedupe_key="t:3", text="紧急")
        rows = {(r.dedupe_key, r.user_id) for r in await s.scalars(select(OutboxMessage).where(
            OutboxMessage.dedupe_key.like("t:%")))}
        assert rows == {("t:1", mother.id), (f"t:1:fd{son.id}", son.id), (f"t:2:fd{son.id}", son.id),
                        ("t:3", mother.id)}
        with pytest.raises(NotFound):
            await family.end(s, SETTINGS, stranger, link.id, T0)
        await family.end(s, SETTINGS, son, link.id, T0)
        assert not await family.is_delegate(s, son.id, mother.id)
        with pytest.raises(Conflict):
            await family.end(s, SETTINGS, mother, link.id, T0)


async def test_an_expired_link_is_refused(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        token = await family.create_invite(s, w.resident, T0)
        with pytest.raises(Conflict) as err:
            await family.open_invite(s, SETTINGS, w.stranger, token, T0 + family.LINK_TTL + timedelta(seconds=1))
        assert err.value.code == "family_link_expired"


async def test_a_staff_notice_is_copied_to_the_delegate_without_the_read_button(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        mother, son = w.resident, w.stranger  # the son lives in another community: not in the audience himself
        token = await family.create_invite(s, mother, T0)
        link = await family.open_invite(s, SETTINGS, son, token, T0)
        await family.answer_request(s, SETTINGS, mother, link.id, True, T0)
        b = await broadcasts.create_broadcast(
            s, w.staff, ref=broadcasts.ScopeRef(BroadcastScope.grid, w.place.grids[0].id),
            audience=BroadcastAudience.residents, text="明天停水", ack_requested=True, now=T0, locale="zh-Hans",
            default_locale="zh-Hans", ack_label=lambda loc: "✅", ack_callback=lambda i: f"bca:{i}")
        await s.commit()
        rows = {r.user_id: r for r in await s.scalars(select(OutboxMessage).where(OutboxMessage.broadcast_id == b.id))}
        assert set(rows) == {mother.id, w.neighbour.id, son.id} and b.total == 3
        assert rows[son.id].payload == {"text": f"👪 代{mother.first_name}接收：\n明天停水"}
        assert rows[mother.id].payload["buttons"]
        # 24 hours on, the list of those who did not confirm names the residents, not the copy.
        (_broadcast, items), = await due_followups(s, T0 + timedelta(hours=25))
        assert {r.user_id for item in items for r in item.residents} == {mother.id, w.neighbour.id}
