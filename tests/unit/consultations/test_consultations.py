"""The consultation service's rules on a small world: who asks, who answers, a changed
answer counts once, closing erases the link between answers and people, the result
rows go to everyone asked, and the turnout figure."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import broadcasts, consultations, reports
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.l10n import translator
from models import BroadcastScope, Consultation, ConsultationAnswer, Grid, OutboxMessage
from tests.factories import SETTINGS, make_user, shanghai
from tests.unit.cases.world import make_world

T0 = shanghai(12, 1, 9)


def test_choices_are_checked() -> None:
    assert consultations.parse_choices(" 同意 \n\n反对\n") == ["同意", "反对"]
    for text, code in (("只有一个", "consult_choices"), ("\n".join(str(i) for i in range(11)), "consult_choices"),
                       ("同意\n同意", "consult_choice_twice"), ("好\n" + "长" * 25, "consult_choice_long")):
        with pytest.raises(InvalidInput) as err:
            consultations.parse_choices(text)
        assert err.value.code == code


async def test_ask_answer_change_close_and_count(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        grid = w.place.grids[0]
        ref = broadcasts.ScopeRef(BroadcastScope.grid, grid.id)
        # A resident, a worker and another community's staff may not ask here.
        for actor in (w.resident, w.worker, w.other_staff):
            with pytest.raises(NotAllowed):
                await consultations.create(s, SETTINGS, actor, ref=ref, question="?", choices=["a", "b"],
                                           closes_at=T0 + timedelta(days=1), now=T0)
        with pytest.raises(InvalidInput):
            await consultations.create(s, SETTINGS, w.staff, ref=ref, question="?", choices=["a", "b"],
                                       closes_at=T0 + timedelta(minutes=5), now=T0)
        c = await consultations.create(s, SETTINGS, w.head, ref=ref, question="装电梯吗？", choices=["装", "不装"],
                                       closes_at=T0 + timedelta(days=1), now=T0)
        assert c.asked == 2  # the resident and the neighbour of that grid
        assert not await consultations.answer(s, w.resident, c.id, 0, T0)
        assert await consultations.answer(s, w.resident, c.id, 1, T0)  # changed
        assert not await consultations.answer(s, w.neighbour, c.id, 1, T0)
        with pytest.raises(NotFound):  # not asked
            await consultations.answer(s, w.stranger, c.id, 0, T0)
        with pytest.raises(InvalidInput):
            await consultations.answer(s, w.resident, c.id, 2, T0)
        with pytest.raises(NotFound):  # results: only for who may oversee it
            await consultations.results(s, w.other_staff, c.id)
        res = await consultations.results(s, w.staff, c.id)
        assert (res.counts, res.asked, res.answered) == ([0, 2], 2, 2)
        assert await consultations.close_due(s, SETTINGS, T0 + timedelta(hours=23)) == 0
        assert await consultations.close_due(s, SETTINGS, T0 + timedelta(days=1)) == 1
        await s.commit()
        c = await s.get(Consultation, c.id)
        assert c.salt is None
        assert {a.voter for a in await s.scalars(select(ConsultationAnswer))}.isdisjoint(
            {str(w.resident.id), str(w.neighbour.id)})
        rows = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"cq:{c.id}:r%"))))
        assert {r.user_id for r in rows} == {w.resident.id, w.neighbour.id, w.head.id}
        assert all(w.resident.first_name not in r.payload["text"] for r in rows)
        with pytest.raises(Conflict):
            await consultations.answer(s, w.resident, c.id, 0, T0 + timedelta(days=2))
        grids = select(Grid.id).where(Grid.id == grid.id)
        t = await consultations.turnout(s, grids, T0 - timedelta(days=1), T0 + timedelta(days=1), by="grid")
        assert t[grid.id].consultations == 1 and t[grid.id].rate == 1.0


async def test_open_answers_are_unsigned_and_sorted(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        ref = broadcasts.ScopeRef(BroadcastScope.grid, w.place.grids[0].id)
        c = await consultations.create(s, SETTINGS, w.staff, ref=ref, question="建议？", choices=[],
                                       closes_at=T0 + timedelta(days=1), now=T0)
        await consultations.answer_text(s, w.resident, c.id, "  多装路灯 ", T0)
        await consultations.answer_text(s, w.neighbour, c.id, "加装扶手", T0)
        assert await consultations.answer_text(s, w.resident, c.id, "修好门禁", T0)
        with pytest.raises(InvalidInput):
            await consultations.answer(s, w.resident, c.id, 0, T0)
        res = await consultations.results(s, w.staff, c.id)
        assert res.texts == sorted(["加装扶手", "修好门禁"]) and res.answered == 2


async def test_the_reports_count_consultations_and_turnout_per_unit(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        c1, g1, g2 = w.place.communities[0], w.place.grids[0], w.place.grids[1]
        community = broadcasts.ScopeRef(BroadcastScope.community, c1.id)
        grid = broadcasts.ScopeRef(BroadcastScope.grid, g1.id)
        a = await consultations.create(s, SETTINGS, w.staff, ref=community, question="一", choices=["是", "否"],
                                       closes_at=T0 + timedelta(days=1), now=T0)
        b = await consultations.create(s, SETTINGS, w.head, ref=grid, question="二", choices=[],
                                       closes_at=T0 + timedelta(days=1), now=T0)
        await consultations.answer(s, w.resident, a.id, 0, T0)
        await consultations.answer_text(s, w.neighbour, b.id, "好", T0)
        await s.commit()
        period = reports.dates_period(T0.date(), T0.date())
        report = await reports.compute(s, SETTINGS, reports.Scope(reports.ScopeKind.community, c1.id, c1.code, "C1"),
                                       period, "en", T0 + timedelta(hours=1))
        # Both asked the resident and the neighbour (grid 1; grid 2 has no resident): 4 asked, 2 answered.
        t = report.consultations
        assert t is not None and (t.consultations, t.asked, t.answered, t.rate) == (2, 4, 2, 0.5)
        assert [(t.key, t.consultations, t.asked, t.answered) for _name, t in report.consultations_by] == [
            (g1.id, 2, 4, 2)]
        assert g2.id not in {t.key for _name, t in report.consultations_by}
        text = reports.summary_text(translator("en"), report)
        assert "consultations 2 · turnout 50.0% (2 of 4 asked)" in text


async def test_a_grid_head_asks_one_building_of_their_grid_only(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        b0, b1, far = w.place.buildings[0], w.place.buildings[1], w.place.buildings[4]
        next_door = await make_user(s, 8090)  # the same grid, the building next door: not asked
        next_door.building_id, next_door.grid_id = b1.id, b1.grid_id
        await s.flush()
        c = await consultations.create(s, SETTINGS, w.head, ref=broadcasts.ScopeRef(BroadcastScope.building, b0.id),
                                       question="楼道装灯吗？", choices=["装", "不装"],
                                       closes_at=T0 + timedelta(days=1), now=T0)
        assert (c.asked, c.grid_id, c.scope_type) == (2, b0.grid_id, BroadcastScope.building)
        asked = {r for (r,) in (await s.execute(select(OutboxMessage.user_id).where(
            OutboxMessage.dedupe_key.like(f"cq:{c.id}:q%")))).all()}
        assert asked == {w.resident.id, w.neighbour.id}
        with pytest.raises(NotFound):  # not asked: may not answer
            await consultations.answer(s, next_door, c.id, 0, T0)
        with pytest.raises((NotAllowed, NotFound)):  # a building of another community's grid
            await consultations.create(s, SETTINGS, w.head, ref=broadcasts.ScopeRef(BroadcastScope.building, far.id),
                                       question="?", choices=["a", "b"], closes_at=T0 + timedelta(days=1), now=T0)
