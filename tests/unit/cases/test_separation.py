"""Separation of duties (issue 16): nobody accepts, resolves, confirms or rates
a case they filed; a problem found on patrol is confirmed by a colleague and
never counts as a resident's satisfaction."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.services import cases
from bot.services.cases.common import add_event
from bot.services.cases.figures import figures
from bot.services.errors import Conflict, NotAllowed, NotFound
from models import ActorRole, CaseEventType, CaseRating, CaseStatus, CloseReason
from tests.factories import outbox
from tests.unit.cases.world import SETTINGS, T0, buttons, events, make_world, sent_case


async def _found(s, w, reporter=None):  # type: ignore[no-untyped-def]
    return await cases.open_found_problem(
        s, SETTINGS, reporter or w.worker, grid_id=w.place.grids[0].id, building_id=w.place.buildings[0].id,
        description="井盖松动", latitude=None, longitude=None, files=[], now=T0,
        source={"source": "diary", "diary_entry": 1})


async def test_a_worker_cannot_accept_or_resolve_what_they_filed(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await _found(s, w)
        # Issue 20: a problem found on patrol is its finder's at once (a colleague checks the fix):
        # nobody is asked to accept it, and it cannot be accepted again.
        assert not [m for m in await outbox(s) if f"cs:acc:{case.id}:0" in buttons(m)]
        assert case.owner_id == w.worker.id and case.status == CaseStatus.accepted
        with pytest.raises(NotAllowed, match="own_case"):
            await cases.accept(s, SETTINGS, w.worker, case.id, T0)
        assert "acc" not in (await cases.view(s, w.worker, case.id, "en", T0)).actions
        # A worker who files a case as a resident of their own grid: neither accepts nor resolves it.
        w.worker.building_id, w.worker.grid_id = w.place.buildings[0].id, w.place.grids[0].id
        own = await sent_case(s, w, resident=w.worker, text="我家水管漏水")
        with pytest.raises(NotAllowed, match="own_case"):
            await cases.accept(s, SETTINGS, w.worker, own.id, T0)
        with pytest.raises(NotAllowed, match="own_case"):  # nor may a grid head give it to them
            await cases.assign(s, SETTINGS, w.head, own.id, w.worker.id, T0)
        # Taking charge of an emergency does not make the filer its owner either.
        await cases.flag_emergency(s, SETTINGS, w.worker, own.id, T0)
        await cases.acknowledge_emergency(s, SETTINGS, w.worker, own.id, T0)
        assert own.owner_id is None and own.status == CaseStatus.new
        await cases.accept(s, SETTINGS, w.worker2, own.id, T0)
        assert own.owner_id == w.worker2.id


async def test_a_found_problem_is_confirmed_by_a_colleague_and_never_rated(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await _found(s, w)
        await cases.assign(s, SETTINGS, w.head, case.id, w.worker2.id, T0 + timedelta(minutes=5))
        await cases.resolve(s, SETTINGS, w.worker2, case.id, "已加固", None, T0 + timedelta(hours=1))
        # The checkers (the grid head here: neither the filer nor the owner) are asked; the filer is told.
        ask = (await outbox(s, w.head))[-1]
        assert buttons(ask) == [f"cs:ok:{case.id}:0", f"cs:nok:{case.id}:0"]
        assert not [m for m in await outbox(s, w.worker) if f"cs:ok:{case.id}:0" in buttons(m)]
        assert not [m for m in await outbox(s, w.worker2) if f"cs:ok:{case.id}:0" in buttons(m)]
        assert (await cases.view(s, w.head, case.id, "en", T0)).actions[:2] == ["ok", "nok"]
        for who in (w.worker, w.worker2):
            assert "ok" not in (await cases.view(s, who, case.id, "en", T0)).actions
        # Neither the filer nor the owner may confirm; nor anyone outside the grid.
        for who in (w.worker, w.worker2):
            with pytest.raises(NotAllowed, match="not_checker"):
                await cases.confirm(s, SETTINGS, who, case.id, T0 + timedelta(hours=2))
        with pytest.raises(NotAllowed, match="not_checker"):
            await cases.reopen(s, SETTINGS, w.worker, case.id, T0 + timedelta(hours=2))
        for outsider in (w.other_worker, w.other_staff, w.resident):
            with pytest.raises((NotAllowed, NotFound)):
                await cases.confirm(s, SETTINGS, outsider, case.id, T0 + timedelta(hours=2))
        # The grid head sends it back once, then confirms it.
        await cases.reopen(s, SETTINGS, w.head, case.id, T0 + timedelta(hours=2))
        assert case.status == CaseStatus.reopened
        await cases.resolve(s, SETTINGS, w.worker2, case.id, "换了新井盖", None, T0 + timedelta(hours=3))
        await cases.confirm(s, SETTINGS, w.head, case.id, T0 + timedelta(hours=4))
        assert case.status == CaseStatus.closed and case.close_reason == CloseReason.confirmed
        (confirmed,) = await events(s, case.id, CaseEventType.confirmed)
        assert confirmed.actor_id == w.head.id and confirmed.actor_role == ActorRole.grid_head
        # Nobody rates it: not the filer (who stands as its "resident"), not the owner.
        assert "rate" not in (await cases.view(s, w.worker, case.id, "en", T0)).actions
        for who in (w.worker, w.worker2):
            with pytest.raises((NotAllowed, Conflict)):
                await cases.rate(s, SETTINGS, who, case.id, 5, T0 + timedelta(hours=5))
        assert await s.scalar(select(CaseRating.id)) is None


async def test_found_problems_closed_automatically_get_no_rating_buttons(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        case = await _found(s, w)
        await cases.resolve(s, SETTINGS, w.worker, case.id, "已加固", None, T0 + timedelta(hours=1))
        assert await cases.auto_close_due(s, SETTINGS, T0 + timedelta(days=10)) == 1
        last = (await outbox(s, w.worker))[-1]
        assert "rate" not in " ".join(buttons(last)) and case.close_reason == CloseReason.auto


async def test_ratings_of_found_problems_never_count_as_satisfaction(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        # A resident's case, rated 2.
        mine = await sent_case(s, w)
        await cases.accept(s, SETTINGS, w.worker, mine.id, T0)
        await cases.resolve(s, SETTINGS, w.worker, mine.id, "修好了", None, T0 + timedelta(hours=1))
        await cases.confirm(s, SETTINGS, w.resident, mine.id, T0 + timedelta(hours=2))
        await cases.rate(s, SETTINGS, w.resident, mine.id, 2, T0 + timedelta(hours=2))
        # A found problem with a 5-star rating written before this rule (legacy data).
        found = await _found(s, w)
        await cases.assign(s, SETTINGS, w.head, found.id, w.worker2.id, T0)
        await cases.resolve(s, SETTINGS, w.worker2, found.id, "已加固", None, T0 + timedelta(hours=1))
        await cases.confirm(s, SETTINGS, w.head, found.id, T0 + timedelta(hours=2))
        s.add(CaseRating(case_id=found.id, resident_id=w.worker.id, score=5, comment="好", created_at=T0))
        await add_event(s, found, CaseEventType.rated, at=T0 + timedelta(hours=3), actor=w.worker,
                        role=ActorRole.resident, note="好", data={"score": 5})
        await s.commit()
        f = await figures(s, since=T0 - timedelta(days=1), until=T0 + timedelta(days=10))
        assert (f.sent, f.completed) == (2, 2)
        assert (f.ratings, f.satisfaction_mean, f.satisfied_share, f.comments) == (1, 2, 0.0, 0)
