import pytest

from bot.services import staff
from bot.services import users as svc
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from models import Role
from tests.factories import make_district, make_user


async def test_register_resident_sets_grid_and_is_idempotent(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        user, _ = await svc.get_or_create_with_state(s, telegram_id=5001, first_name="李")
        assert not user.is_registered
        with pytest.raises(NotAllowed):  # nothing before the privacy notice is agreed to
            await svc.register_resident(s, user, place.buildings[3].id, "en")
        assert user.building_id is None
        svc.agree_to_privacy(user)
        home = await svc.register_resident(s, user, place.buildings[3].id, "en")
        first = user.registered_at
        assert (home.community, home.grid, home.building) == ("Xinzhan", "Xinzhan grid 2", "Block 2-2")
        assert user.grid_id == place.grids[1].id
        await svc.register_resident(s, user, place.buildings[3].id, "en")
        assert user.registered_at == first
        with pytest.raises(NotFound):
            await svc.register_resident(s, user, 999_999, "en")


async def test_lists_and_filter(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        communities = await svc.communities(s, "zh-Hans")
        assert [c.name for c in communities] == ["新站社区", "老站社区"]
        assert [o.code for o in svc.filter_options(communities, "老站")] == ["C2"]
        assert [o.code for o in svc.filter_options(communities, "xinZHAN")] == []  # zh names only in zh
        grids = await svc.grids_of(s, place.communities[0].id, "en")
        assert [g.code for g in grids] == ["C1-G1", "C1-G2"]
        assert len(await svc.buildings_of(s, place.grids[0].id, "en")) == 2
        with pytest.raises(InvalidInput):
            svc.filter_options(communities, "x" * 5000)
        with pytest.raises(NotFound):
            await svc.grids_of(s, 424242, "en")


async def test_nearest_buildings(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        near = await svc.nearest_buildings(s, 41.7301, 125.94, "en")
        assert near[0].building.id == place.buildings[3].id
        assert near[0].distance_m < 20
        assert await svc.nearest_buildings(s, 10.0, 10.0, "en") == []
        with pytest.raises(InvalidInput):
            await svc.nearest_buildings(s, 123.0, 10.0, "en")


async def test_phone_must_be_own_contact(sessionmaker):
    async with sessionmaker() as s:
        user, _ = await svc.get_or_create_with_state(s, telegram_id=5002, first_name="王")
        with pytest.raises(NotAllowed, match="privacy_consent_needed"):  # not before the privacy notice
            svc.set_phone(user, "+8613800000000", contact_user_id=5002)
        svc.agree_to_privacy(user)
        with pytest.raises(NotAllowed):
            svc.set_phone(user, "+8613800000000", contact_user_id=42)
        with pytest.raises(NotAllowed):
            svc.set_phone(user, "+8613800000000", contact_user_id=None)
        with pytest.raises(InvalidInput):
            svc.set_phone(user, "call me", contact_user_id=5002)
        svc.set_phone(user, "86 138-0000-0000", contact_user_id=5002)
        assert user.phone == "+8613800000000"


async def test_locale_validation(sessionmaker):
    async with sessionmaker() as s:
        user, _ = await svc.get_or_create_with_state(s, telegram_id=5003, first_name="A")
        svc.set_locale(user, "zh-Hant")
        with pytest.raises(InvalidInput):
            svc.set_locale(user, "fr")
        assert user.locale == "zh-Hant"


async def test_a_new_users_row_starts_in_the_language_telegram_names(sessionmaker):
    async with sessionmaker() as s:
        user, _ = await svc.get_or_create_with_state(s, telegram_id=5004, first_name="陳", locale="zh-Hant")
        assert user.locale == "zh-Hant" and svc.created_now(s, user)
        assert not s.dirty  # written with the row: nothing left for the commit to update
        await s.commit()
        with pytest.raises(InvalidInput):
            await svc.get_or_create_with_state(s, telegram_id=5005, first_name="B", locale="fr")
    async with sessionmaker() as s:  # a later update: the row is not new, its language not replaced
        again, _ = await svc.get_or_create_with_state(s, telegram_id=5004, first_name="陳", locale="en")
        assert again.locale == "zh-Hant" and not svc.created_now(s, again)
        unknown, _ = await svc.get_or_create_with_state(s, telegram_id=5006, first_name="Otto")
        assert unknown.locale is None and svc.created_now(s, unknown)


async def test_scope_summaries_need_roles(sessionmaker):
    async with sessionmaker() as s:
        place = await make_district(s)
        worker = await make_user(s, 6001, role=Role.worker, scope_id=place.grids[0].id)
        resident, _ = await svc.get_or_create_with_state(s, telegram_id=6002, first_name="R")
        svc.agree_to_privacy(resident)
        await svc.register_resident(s, resident, place.buildings[0].id, "en")
        await s.flush()
        summary = await staff.my_grids(s, worker, "en")
        assert [(g.grid, g.buildings, g.residents, g.workers) for g in summary] == [("Xinzhan grid 1", 2, 1, 1)]
        with pytest.raises(NotAllowed):
            await staff.my_communities(s, worker, "en")
        with pytest.raises(NotAllowed):
            await staff.my_grids(s, resident, "en")


@pytest.mark.parametrize("phone,masked", [("+8613812343001", "138****3001"), ("13812343001", "138****3001"),
                                          ("+4915112345678", "491****5678"), ("+12345", "****45"),
                                          (None, None), ("", None)])
def test_mask_phone(phone, masked):
    assert svc.mask_phone(phone) == masked


async def test_only_the_first_name_is_kept_before_the_privacy_notice_is_agreed_to(sessionmaker):
    async def zhao(s):  # type: ignore[no-untyped-def]
        """Telegram tells the bot the same names about him each time."""
        user, _ = await svc.get_or_create_with_state(s, telegram_id=5010, first_name="赵", last_name="六",
                                                     username="zhao6")
        return user

    async with sessionmaker() as s:
        user = await zhao(s)
        assert (user.first_name, user.last_name, user.username) == ("赵", None, None)
        await s.commit()
    async with sessionmaker() as s:
        user = await zhao(s)
        assert (user.last_name, user.username) == (None, None)
        svc.agree_to_privacy(user)
        await s.commit()
    async with sessionmaker() as s:
        user = await zhao(s)
        assert (user.last_name, user.username) == ("六", "zhao6")
