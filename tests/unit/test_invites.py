import asyncio
from datetime import timedelta

import pytest

from bot.services import invites, staff
from bot.services.errors import DomainError, NotAllowed, NotFound
from models import Community, District, Grid, Invite, Role, ScopeType, utcnow
from tests.factories import make_district, make_user, names


async def test_invite_grants_role_once(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        created = await invites.create_invite(s, role=Role.worker, scope_code="C1-G2")
        alice = await make_user(s, 1001)
        grant = await invites.redeem_invite(s, alice, created.payload)
        await s.commit()
        assert (grant.role, grant.scope_type, grant.scope_id) == (Role.worker, ScopeType.grid, place.grids[1].id)
        assert [g.role for g in alice.roles] == [Role.worker]

        bob = await make_user(s, 1002)
        with pytest.raises(invites.InviteError) as used:
            await invites.redeem_invite(s, bob, created.payload)
        assert used.value.code == "invite_used"
        assert bob.roles == []


async def test_unknown_and_expired_invites(sessionmaker):
    async with sessionmaker() as s:
        await make_district(s)
        user = await make_user(s, 1001)
        with pytest.raises(invites.InviteError) as unknown:
            await invites.redeem_invite(s, user, "no-such-payload")
        assert unknown.value.code == "invite_unknown"
        created = await invites.create_invite(s, role=Role.staff, scope_code="C1", expires_in=timedelta(hours=1))
        with pytest.raises(invites.InviteError) as expired:
            await invites.redeem_invite(s, user, created.payload, now=utcnow() + timedelta(hours=2))
        assert expired.value.code == "invite_expired"
        assert user.roles == []


async def test_scope_must_match_role(sessionmaker):
    async with sessionmaker() as s:
        await make_district(s)
        with pytest.raises(NotFound):
            await invites.create_invite(s, role=Role.worker, scope_code="C1")  # a community, not a grid
        created = await invites.create_invite(s, role=Role.department, scope_code="CG")
        assert created.scope_type == ScopeType.department


async def test_simultaneous_redemption_grants_exactly_once(sessionmaker):
    async with sessionmaker() as s:
        await make_district(s)
        created = await invites.create_invite(s, role=Role.worker, scope_code="C1-G1")
        await make_user(s, 2001)
        await make_user(s, 2002)
        await s.commit()

    async def redeem(telegram_id: int) -> str:
        from sqlalchemy import select

        from models import User

        async with sessionmaker() as s:
            user = await s.scalar(select(User).where(User.telegram_id == telegram_id))
            try:
                await invites.redeem_invite(s, user, created.payload)
                await s.commit()
                return "ok"
            except DomainError as err:
                await s.rollback()
                return err.code
            except Exception:  # SQLite: the loser may also see "database is locked" → counts as a refusal
                await s.rollback()
                return "locked"

    results = await asyncio.gather(redeem(2001), redeem(2002))
    assert sorted(results)[0] == "invite_used" or "locked" in results
    assert results.count("ok") == 1
    async with sessionmaker() as s:
        invite = await s.get(Invite, 1)
        assert invite.used_at is not None


@pytest.mark.parametrize("text,ok", [("7d", True), ("12h", True), ("30m", True), ("2w", True),
                                     ("0d", False), ("400d", False), ("7", False), ("-1d", False)])
def test_parse_duration(text, ok):
    if ok:
        assert invites.parse_duration(text) > timedelta(0)
    else:
        with pytest.raises(DomainError):
            invites.parse_duration(text)


async def test_staff_may_invite_only_into_own_community(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        secretary = await make_user(s, 3001, role=Role.staff, scope_id=place.communities[0].id)
        assert staff.invitable_roles(secretary) == [Role.worker, Role.grid_head, Role.building_head, Role.unit_head,
                                                    Role.volunteer]
        own = await staff.invite_scopes(s, secretary, Role.worker, "en")
        assert {o.code for o in own} == {"C1-G1", "C1-G2"}
        created = await staff.invite_as(s, secretary, Role.worker, place.grids[0].id)
        assert created.scope_code == "C1-G1"
        # A forged button naming a grid of the other community:
        with pytest.raises(NotFound):
            await staff.invite_as(s, secretary, Role.worker, place.grids[2].id)
        # A role staff may not hand out:
        with pytest.raises(NotAllowed):
            await staff.invite_as(s, secretary, Role.admin, place.district.id)


async def test_staff_and_grid_heads_invite_the_organisation_of_their_own_places(sessionmaker):
    """Issue 17: staff invite volunteers into their own community (the list was empty), and
    building and unit heads of its buildings; a grid head only those of their grid."""
    async with sessionmaker() as s:
        place = await make_district(s)
        secretary = await make_user(s, 3011, role=Role.staff, scope_id=place.communities[0].id)
        assert [o.code for o in await staff.invite_scopes(s, secretary, Role.volunteer, "en")] == ["C1"]
        assert (await staff.invite_as(s, secretary, Role.volunteer, place.communities[0].id)).scope_code == "C1"
        with pytest.raises(NotFound):  # a forged button naming the other community
            await staff.invite_as(s, secretary, Role.volunteer, place.communities[1].id)
        assert {o.code for o in await staff.invite_scopes(s, secretary, Role.building_head, "en")} == {
            "C1-G1-B1", "C1-G1-B2", "C1-G2-B1", "C1-G2-B2"}
        head = await make_user(s, 3012, role=Role.grid_head, scope_id=place.grids[0].id)
        assert staff.invitable_roles(head) == [Role.building_head, Role.unit_head]
        assert [o.code for o in await staff.invite_scopes(s, head, Role.building_head, "en")] == [
            "C1-G1-B1", "C1-G1-B2"]
        assert [o.code for o in await staff.invite_scopes(s, head, Role.unit_head, "en")] == [
            "C1-G1-B1/1", "C1-G1-B1/2", "C1-G1-B1/3", "C1-G1-B2/1", "C1-G1-B2/2", "C1-G1-B2/3"]
        b1 = place.buildings[0]
        created = await staff.invite_as(s, head, Role.unit_head, b1.id * 1000 + 2)
        assert created.scope_code == "C1-G1-B1/2"
        for role, scope_id in ((Role.building_head, place.buildings[2].id), (Role.volunteer, place.communities[0].id),
                               (Role.worker, place.grids[0].id)):
            with pytest.raises((NotFound, NotAllowed)):  # another grid's building; roles a grid head may not give
                await staff.invite_as(s, head, role, scope_id)


async def test_resident_cannot_invite(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        resident = await make_user(s, 4001)
        assert staff.invitable_roles(resident) == []
        with pytest.raises(NotAllowed):
            await staff.invite_as(s, resident, Role.worker, place.grids[0].id)


async def test_an_admin_invites_only_within_their_district(sessionmaker):
    """Issue 16: a district admin could mint an admin invite for another district."""
    async with sessionmaker() as s:
        place = await make_district(s)
        other = District(code="D2", names=names("西城区", "Xicheng"))
        s.add(other)
        await s.flush()
        far = Community(code="X1", district_id=other.id, names=names("远方社区", "Far"))
        s.add(far)
        await s.flush()
        far_grid = Grid(code="X1-G1", community_id=far.id, names=names("远方网格", "Far grid"))
        s.add(far_grid)
        await s.flush()
        admin = await make_user(s, 3101, role=Role.admin, scope_id=place.district.id)
        assert {o.code for o in await staff.invite_scopes(s, admin, Role.admin, "en")} == {"D1"}
        assert {o.code for o in await staff.invite_scopes(s, admin, Role.staff, "en")} == {"C1", "C2"}
        assert {o.code for o in await staff.invite_scopes(s, admin, Role.worker, "en")} == {
            "C1-G1", "C1-G2", "C2-G1", "C2-G2"}
        assert {o.code for o in await staff.invite_scopes(s, admin, Role.department, "en")} == {"CG"}
        # Forged buttons naming the other district, its community or its grid:
        for role, scope_id in ((Role.admin, other.id), (Role.staff, far.id), (Role.worker, far_grid.id),
                               (Role.grid_head, far_grid.id)):
            with pytest.raises(NotFound):
                await staff.invite_as(s, admin, role, scope_id)
        assert (await staff.invite_as(s, admin, Role.admin, place.district.id)).scope_code == "D1"
