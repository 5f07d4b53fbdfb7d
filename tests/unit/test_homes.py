"""Home claims (bot/services/homes.py): who may confirm or reject them, and what changes a home."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from bot.services import homes, users
from bot.services.errors import Conflict, NotAllowed, NotFound
from models import OutboxMessage, User, utcnow
from tests.factories import SETTINGS
from tests.unit.cases.world import T0, make_world


async def test_only_a_worker_of_the_grid_confirms_a_claim(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        w.neighbour.registered_at = T0
        assert not homes.confirmed(w.neighbour)
        assert [c.user_id for c in await homes.claims(s, w.worker, "en") if c.user_id == w.neighbour.id]
        assert await homes.claims_count(s, w.worker) >= 1
        # Another grid's worker, staff, a resident: the claim does not exist for them.
        for outsider in (w.other_worker, w.stranger, w.resident):
            with pytest.raises((NotFound, NotAllowed)):
                await homes.confirm(s, SETTINGS, outsider, w.neighbour.id, T0)
        assert w.neighbour.id not in [c.user_id for c in await homes.claims(s, w.other_worker, "en")]
        with pytest.raises(NotAllowed):
            await homes.claims(s, w.staff, "en")  # staff work no grid
        # Forged ids: out of range, unknown.
        for forged in (0, -1, 2**70, 987654321):
            with pytest.raises(NotFound):
                await homes.confirm(s, SETTINGS, w.worker, forged, T0)
        await homes.confirm(s, SETTINGS, w.worker, w.neighbour.id, T0)
        assert homes.confirmed(w.neighbour) and w.neighbour.home_confirmed_by_id == w.worker.id
        with pytest.raises(Conflict, match="claim_settled"):
            await homes.confirm(s, SETTINGS, w.head, w.neighbour.id, T0)
        told = await s.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key.like(f"home:{w.neighbour.id}:ok:%")))
        assert told is not None

        # Moving to another building is a new claim; the same building keeps it.
        await users.register_resident(s, w.neighbour, w.neighbour.building_id, "en")
        assert homes.confirmed(w.neighbour)
        await users.register_resident(s, w.neighbour, w.place.buildings[1].id, "en")
        assert not homes.confirmed(w.neighbour)


async def test_a_rejected_claim_clears_the_building_and_nobody_confirms_their_own(sessionmaker):
    async with sessionmaker() as s:
        w = await make_world(s)
        w.neighbour.registered_at = T0
        await homes.reject(s, SETTINGS, w.head, w.neighbour.id, T0)
        assert w.neighbour.building_id is None and w.neighbour.grid_id is None
        with pytest.raises(NotFound):
            await homes.reject(s, SETTINGS, w.head, w.neighbour.id, T0)
        # A worker who also lives in their grid cannot confirm themselves.
        w.worker.building_id, w.worker.grid_id, w.worker.registered_at = (
            w.place.buildings[0].id, w.place.buildings[0].grid_id, utcnow())
        assert w.worker.id not in [c.user_id for c in await homes.claims(s, w.worker, "en")]
        with pytest.raises(NotAllowed, match="own_home"):
            await homes.confirm(s, SETTINGS, w.worker, w.worker.id, T0)
        await homes.confirm(s, SETTINGS, w.worker2, w.worker.id, T0)
        assert homes.confirmed(w.worker)


async def test_the_demo_district_states_its_residents_homes(demo_sessionmaker):
    async with demo_sessionmaker() as s:
        residents = list(await s.scalars(select(User).where(User.building_id.is_not(None))))
        assert residents and all(u.home_confirmed_at is not None and u.home_confirmed_by_id is None
                                 for u in residents)
