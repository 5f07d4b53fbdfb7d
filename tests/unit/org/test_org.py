"""The organisation's services: unit scopes, who a head reaches, people without
Telegram, a case filed for a neighbour, errands offered to volunteers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.config import Settings
from bot.services import access, cases, events, homes, offline, org, places, reports
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models import (
    UNIT_FACTOR,
    ActorRole,
    AllianceUnit,
    CaseEvent,
    CaseEventType,
    CaseKind,
    ErrandOffer,
    EventAudience,
    Role,
    ScopeType,
    ServiceItem,
    ServiceKind,
    User,
    utcnow,
)
from tests.factories import make_district, make_user


def _settings() -> Settings:
    return Settings(_env_file=None, BOT_TOKEN="123456789:TEST-token_for_emulator", QUIET_HOURS="")


async def test_unit_scopes_read_by_code_and_reach_only_their_unit(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        b1, b2 = place.buildings[0], place.buildings[1]
        assert await places.resolve(s, ScopeType.unit, f"{b1.code.lower()} / 3") == b1.id * UNIT_FACTOR + 3
        for bad in (f"{b1.code}/4", f"{b1.code}/0", b1.code, "NOPE/1"):  # the building has 3 units
            with pytest.raises(NotFound):
                await places.resolve(s, ScopeType.unit, bad)
        assert await places.code_of(s, ScopeType.unit, b1.id * UNIT_FACTOR + 2) == f"{b1.code}/2"
        assert await places.name_of(s, ScopeType.unit, b1.id * UNIT_FACTOR + 2, "en") == "Block 1-1 · 2"
        head = await make_user(s, 9001, role=Role.unit_head, scope_id=access.unit_scope_id(b1.id, 2))
        assert access.headed(head) == {b1.id: frozenset({2})}
        assert access.heads_home(head, b1.id, 2) and not access.heads_home(head, b1.id, 1)
        assert not access.heads_home(head, b1.id, None) and not access.heads_home(head, b2.id, 2)
        # A building head's grant covers every unit of the building.
        head.roles.append(await _grant(s, head, Role.building_head, b1.id))
        assert access.headed(head) == {b1.id: None} and access.heads_home(head, b1.id, None)


async def _grant(s, user, role, scope_id):  # type: ignore[no-untyped-def]
    from models import ROLE_SCOPE, RoleGrant

    grant = RoleGrant(user_id=user.id, role=role, scope_type=ROLE_SCOPE[role], scope_id=scope_id)
    s.add(grant)
    await s.flush()
    return grant


async def test_a_head_adds_and_files_for_a_neighbour_of_their_own_building(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        b1, b2 = place.buildings[0], place.buildings[1]
        head = await make_user(s, 9101, role=Role.unit_head, scope_id=access.unit_scope_id(b1.id, 2))
        other = await make_user(s, 9102, role=Role.building_head, scope_id=b2.id)
        person, new = await offline.add_offline_resident(s, head, "赵大爷", "138 0000 1111", utcnow())
        assert new and (person.building_id, person.grid_id, person.unit) == (b1.id, b1.grid_id, 2)
        assert person.home_confirmed_by_id == head.id  # the head stands for the address
        assert (await offline.add_offline_resident(s, head, "赵大爷", "13800001111", utcnow()))[0].id == person.id
        assert [p.id for p in await offline.offline_residents(s, head)] == [person.id]
        assert await offline.offline_residents(s, other) == []
        with pytest.raises(NotFound):
            await offline.offline_resident(s, other, person.id)
        case = await cases.file_for_neighbour(s, _settings(), head, person.id, "  水管漏水 ", utcnow())
        assert (case.resident_id, case.kind, case.building_id, case.description) == (
            person.id, CaseKind.request, b1.id, "水管漏水")
        event = await s.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id))
        assert (event.type, event.actor_id, event.actor_role, event.data["on_behalf"]) == (
            CaseEventType.submitted, head.id, ActorRole.unit_head, True)
        for actor in (other, await make_user(s, 9103)):
            with pytest.raises((NotFound, NotAllowed)):
                await cases.file_for_neighbour(s, _settings(), actor, person.id, "x", utcnow())
        # A building head says in which unit (or none) a new neighbour lives: a unit head of it reaches them.
        whole = await make_user(s, 9104, role=Role.building_head, scope_id=b1.id)
        homes = await offline.head_homes(s, whole, "en")
        assert [(h.code, h.unit) for h in homes] == [
            (b1.id * UNIT_FACTOR + 1, 1), (b1.id * UNIT_FACTOR + 2, 2), (b1.id * UNIT_FACTOR + 3, 3),
            (b1.id * UNIT_FACTOR, None)]
        with pytest.raises(InvalidInput):  # several homes: which one
            await offline.add_offline_resident(s, whole, "钱奶奶", "13800002222", utcnow())
        with pytest.raises(NotFound):  # a forged home in another building
            await offline.add_offline_resident(s, whole, "钱奶奶", "13800002222", utcnow(), home=b2.id * UNIT_FACTOR + 1)
        granny, _new = await offline.add_offline_resident(s, whole, "钱奶奶", "13800002222", utcnow(),
                                                          home=b1.id * UNIT_FACTOR + 2)
        assert (granny.building_id, granny.unit) == (b1.id, 2) and offline.reaches(head, granny)
        nobody, _new = await offline.add_offline_resident(s, whole, "孙爷爷", "13800003333", utcnow(),
                                                          home=b1.id * UNIT_FACTOR)
        assert nobody.unit is None and not offline.reaches(head, nobody) and offline.reaches(whole, nobody)
        assert await offline.head_homes(s, await make_user(s, 9105, role=Role.worker, scope_id=b1.grid_id), "en") == []


async def test_a_building_head_confirms_claims_in_their_building_only(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        b1, b2 = place.buildings[0], place.buildings[1]
        head = await make_user(s, 9201, role=Role.building_head, scope_id=b1.id)
        mine, theirs = await make_user(s, 9202), await make_user(s, 9203)
        mine.building_id, mine.grid_id = b1.id, b1.grid_id
        theirs.building_id, theirs.grid_id = b2.id, b2.grid_id
        await s.flush()
        assert [c.user_id for c in await homes.claims(s, head, "en")] == [mine.id]
        await homes.confirm(s, _settings(), head, mine.id, utcnow())
        assert mine.home_confirmed_by_id == head.id
        with pytest.raises(NotFound):
            await homes.confirm(s, _settings(), head, theirs.id, utcnow())
        people = await org.my_places(s, head, "en")
        assert [(p.building_id, p.units, p.neighbours) for p in people] == [(b1.id, (), 1)]


async def _submitted_errand(s, settings, resident, service_id, now):  # type: ignore[no-untyped-def]
    """A proxy errand (代办) the resident sent, authorising the worker to hand in papers."""
    draft = await cases.start_for_service(s, resident, service_id, now)
    await cases.add_text(s, resident, draft.id, "代办养老认证", "en")
    await cases.set_authorisation(s, resident, draft.id, "代交材料")
    return await cases.submit(s, settings, resident, draft.id, now)


async def test_the_first_volunteer_takes_an_errand(sessionmaker):
    settings, now = _settings(), utcnow()
    async with sessionmaker() as s:
        place = await make_district(s)
        b1, community = place.buildings[0], place.communities[0]
        service = ServiceItem(code="PX-1", kind=ServiceKind.proxy, names={"en": "Pension"})
        s.add(service)
        resident = await make_user(s, 9301)
        resident.building_id, resident.grid_id, resident.phone = b1.id, b1.grid_id, "13900000000"
        worker = await make_user(s, 9302, role=Role.worker, scope_id=b1.grid_id)
        first = await make_user(s, 9303, role=Role.volunteer, scope_id=community.id)
        second = await make_user(s, 9304, role=Role.volunteer, scope_id=community.id)
        far = await make_user(s, 9305, role=Role.volunteer, scope_id=place.communities[1].id)
        await s.flush()
        case = await _submitted_errand(s, settings, resident, service.id, now)
        with pytest.raises(NotAllowed):  # only the owner offers it
            await cases.offer_errand(s, settings, worker, case.id, share_phone=False, now=now)
        await cases.accept(s, settings, worker, case.id, now)
        assert await cases.offer_errand(s, settings, worker, case.id, share_phone=False, now=now) == 2
        with pytest.raises(Conflict):
            await cases.offer_errand(s, settings, worker, case.id, share_phone=True, now=now)
        offer = await s.scalar(select(ErrandOffer).where(ErrandOffer.case_id == case.id))
        with pytest.raises(NotAllowed):
            await cases.take_errand(s, settings, far, offer.id, now)
        await cases.take_errand(s, settings, first, offer.id, now)
        with pytest.raises(Conflict) as lost:
            await cases.take_errand(s, settings, second, offer.id, now)
        assert lost.value.code == "errand_taken"
        seen = await cases.errand(s, first, offer.id, "en", now)
        assert (seen.request, seen.phone, seen.resident) == ("代办养老认证", None, resident.first_name)
        with pytest.raises(NotFound):
            await cases.errand(s, second, offer.id, "en", now)
        await cases.errand_done(s, settings, first, offer.id, now)
        with pytest.raises(Conflict):
            await cases.errand_done(s, settings, first, offer.id, now)
        assert case.owner_id == worker.id
        assert [e.offer_id for e in await cases.my_errands(s, first, "en")] == [offer.id]
        assert (await s.get(User, resident.id)).phone == "13900000000"


async def test_the_reports_count_the_organisation_per_community_and_grid(sessionmaker):
    """Building-head coverage, errands offered and taken, service days, attendance and
    volunteer hours: per community in a district's report, per grid in a community's."""
    settings, now = _settings(), utcnow()
    async with sessionmaker() as s:
        place = await make_district(s)
        c1, g1 = place.communities[0], place.grids[0]
        b1, b2 = place.buildings[0], place.buildings[2]  # grid 1 and grid 2 of community 1
        await make_user(s, 9401, role=Role.building_head, scope_id=b1.id)
        await make_user(s, 9402, role=Role.unit_head, scope_id=access.unit_scope_id(b2.id, 1))  # covers no building
        await make_user(s, 9403, role=Role.building_head, scope_id=place.buildings[4].id)  # community 2
        service = ServiceItem(code="PX-1", kind=ServiceKind.proxy, names={"en": "Pension"})
        s.add(service)
        resident = await make_user(s, 9404)
        resident.building_id, resident.grid_id = b1.id, b1.grid_id
        worker = await make_user(s, 9405, role=Role.worker, scope_id=g1.id)
        volunteer = await make_user(s, 9406, role=Role.volunteer, scope_id=c1.id)
        staff = await make_user(s, 9407, role=Role.staff, scope_id=c1.id)
        await s.flush()
        case = await _submitted_errand(s, settings, resident, service.id, now)
        await cases.accept(s, settings, worker, case.id, now)
        await cases.offer_errand(s, settings, worker, case.id, share_phone=False, now=now)
        await cases.take_errand(s, settings, volunteer,
                                (await s.scalar(select(ErrandOffer.id).where(ErrandOffer.case_id == case.id))), now)
        event = await events.announce(s, settings, staff, c1.id, events.Draft("义诊", now + timedelta(hours=1), "站", 5, 3),
                                      EventAudience.both, now)
        await events.sign_up(s, volunteer, event.id, now)
        await events.sign_up(s, resident, event.id, now)
        for person in await events.attendees(s, staff, event.id):
            await events.mark(s, settings, staff, person.signup_id, person.volunteer, now + timedelta(hours=2))
        await s.commit()

        period = reports.dates_period(now.date() - timedelta(days=1), now.date() + timedelta(days=1))
        as_of = now + timedelta(hours=3)
        district = await reports.compute(s, settings, reports.Scope(reports.ScopeKind.district, place.district.id,
                                                                    "D1", "D1"), period, "en", as_of)
        o = district.organisation
        assert (o.buildings, o.buildings_with_head, o.errands_offered, o.errands_taken) == (8, 2, 1, 1)
        assert [(name, f.buildings, f.buildings_with_head, f.errands_offered, f.errands_taken)
                for name, f in district.organisation_by] == [("Laozhan", 4, 1, 0, 0), ("Xinzhan", 4, 1, 1, 1)]
        e = district.events
        assert (e.held, e.signed_up, e.attended, e.volunteer_hours) == (1, 2, 1, 3)
        assert [(name, f.held, f.attended, f.volunteer_hours) for name, f in district.events_by] == [
            ("Xinzhan", 1, 1, 3)]
        community = await reports.compute(s, settings, reports.Scope(reports.ScopeKind.community, c1.id, "C1", "C1"),
                                          period, "en", as_of)
        assert [(name, f.buildings, f.buildings_with_head, f.errands_offered)
                for name, f in community.organisation_by] == [("Xinzhan grid 1", 2, 1, 1), ("Xinzhan grid 2", 2, 0, 0)]
        assert community.events_by == [] and community.events.volunteer_hours == 3  # events belong to a community


async def test_alliance_units_are_shown_to_those_who_serve_the_community(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        c1, c2 = place.communities
        s.add_all([AllianceUnit(code="AL-1", community_id=c1.id, names={"zh-Hans": "卫生服务中心", "en": "Health centre"},
                                contact="0435-1", offers="义诊"),
                   AllianceUnit(code="AL-2", community_id=c1.id, names={"en": "Closed"}, active=False),
                   AllianceUnit(code="AL-3", community_id=c2.id, names={"en": "Far away"})])
        await s.flush()
        for who in (await make_user(s, 9501, role=Role.staff, scope_id=c1.id),
                    await make_user(s, 9502, role=Role.volunteer, scope_id=c1.id),
                    await make_user(s, 9503, role=Role.worker, scope_id=place.grids[0].id)):
            assert await org.alliances(s, who, "en") == [org.Alliance("Health centre", "0435-1", "义诊")]
        assert [a.name for a in await org.alliances(s, await make_user(s, 9504, role=Role.staff, scope_id=c2.id),
                                                    "zh-Hans")] == ["Far away"]
        with pytest.raises(NotAllowed):  # a resident serves no community
            await org.alliances(s, await make_user(s, 9505), "en")
