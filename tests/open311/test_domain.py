"""The Open311 domain alone (``bot.services.open311``), without HTTP: the
locale, dates and windows, the POST form's checks, routing a place to a
building, keys, and the privacy filter as the services apply it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.services import cases, open311
from bot.services.errors import Conflict, InvalidInput, NotFound
from bot.services.org_import import import_org_file
from bot.services.privacy import purge_expired
from models import (
    Case,
    CaseEvent,
    CaseEventType,
    CaseStatus,
    CloseReason,
    Open311Client,
    Open311Request,
    User,
    utcnow,
)
from tests.open311.world import BUILDING, WORKER_TG, World, settings_for
from tests.org.builders import write_csv

TZ = ZoneInfo("Asia/Shanghai")


def test_the_locale_comes_from_the_parameter_then_the_best_accepted_language() -> None:
    assert open311.negotiate_locale("zh-TW", "en", "zh-Hans") == "zh-Hant"
    assert open311.negotiate_locale(None, "fr, en-US;q=0.9, zh-CN;q=0.95", "zh-Hans") == "zh-Hans"
    assert open311.negotiate_locale(None, "de, en;q=0.2, *;q=0.1", "zh-Hans") == "en"
    assert open311.negotiate_locale("xx", "zh-HK;q=0, garbage;;q=x", "en") == "en"
    assert open311.negotiate_locale(None, None, "zh-Hant") == "zh-Hant"


FIXED_NOW = datetime(2026, 12, 5, 4, 0, tzinfo=UTC)


def _query(now: datetime = FIXED_NOW, **params: str) -> open311.RequestQuery:
    """The query as the server parses it at ``now``: a fixed instant for the
    window arithmetic, the real clock for the tests on the world's cases
    (filed two hours before the real now)."""
    return open311.parse_query(params, now, settings_for("sqlite+aiosqlite://"))


def test_dates_and_windows_at_their_edges() -> None:
    q = _query()
    assert q.end == datetime(2026, 12, 5, 4, 0, tzinfo=UTC) and q.end - q.start == timedelta(days=90)
    q = _query(start_date="2026-01-01T00:00:00+08:00", end_date="2026-03-31T00:00:00+08:00")
    assert q.end - q.start == timedelta(days=89)
    q = _query(start_date="2026-01-01", end_date="2026-04-01")  # a plain date: local midnight
    assert q.start == datetime(2026, 1, 1, tzinfo=TZ) and q.end - q.start == timedelta(days=90)
    q = _query(start_date="2026-01-01T00:00:00 08:00")  # '+' decoded as a space
    assert q.start == datetime(2026, 1, 1, tzinfo=TZ) and q.end == q.start + timedelta(days=90)
    q = _query(end_date="2026-04-01T00:00:00Z")
    assert q.start == datetime(2026, 1, 1, tzinfo=UTC)
    q = _query(updated_after="2026-11-01T00:00:00Z")
    assert q.start is None and q.updated_before == datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=90)
    for bad, field in (({"start_date": "2026-01-01", "end_date": "2026-04-01T00:00:01+08:00"}, "end_date"),
                       ({"start_date": "2026-02-01", "end_date": "2026-01-31"}, "end_date"),
                       ({"start_date": "1999-12-31T00:00:00Z"}, "start_date"),
                       ({"updated_before": "soon"}, "updated_before"),
                       ({"page_size": "1001"}, "page_size"), ({"page": "-1"}, "page"),
                       ({"status": "open,maybe"}, "status"),
                       ({"service_request_id": ",".join(f"DC-2026-{i:06d}" for i in range(201))}, "service_request_id")):
        with pytest.raises(InvalidInput) as caught:
            _query(**bad)
        assert caught.value.params["field"] == field, bad


def test_the_post_form_is_checked_field_by_field() -> None:
    good = {"service_code": "RP-REPAIR", "lat": "41.7", "long": "125.9", "description": "x",
            "attribute[location_detail]": "  east   gate ", "email": "a@b.cn", "phone": "+86 139-1234 5678"}
    req = open311.parse_new_request(good)
    assert req.attributes == {"location_detail": "east gate"} and req.lat == 41.7
    for change, field in (({"service_code": ""}, "service_code"), ({"lat": "north"}, "lat"),
                          ({"lat": "91"}, "lat"), ({"long": "nan"}, "long"), ({"long": ""}, "long"),
                          ({"email": "not-an-address"}, "email"), ({"phone": "call me"}, "phone"),
                          ({"media_url": "javascript:alert(1)"}, "media_url"),
                          ({"attribute[colour]": "red"}, "attribute[colour]"), ({"attributes": "x"}, "attributes"),
                          ({"description": "d" * 4001}, "description")):
        with pytest.raises(InvalidInput) as caught:
            open311.parse_new_request({**good, **change})
        assert caught.value.params.get("field") == field, change
    with pytest.raises(InvalidInput) as caught:
        open311.parse_new_request({"service_code": "RP-REPAIR", "description": "x"})
    assert caught.value.code == "no_location"


async def test_keys_are_stored_hashed_and_end_when_revoked(demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with demo_sessionmaker() as s:
        key = await open311.create_key(s, "portal", utcnow())
        with pytest.raises(Conflict):
            await open311.create_key(s, "portal", utcnow())
        with pytest.raises(InvalidInput):
            await open311.create_key(s, "<script>", utcnow())
        client = await open311.authenticate(s, key)
        assert client is not None and client.name == "portal"
        row = await s.scalar(select(Open311Client).where(Open311Client.name == "portal"))
        assert key not in row.key_hash and len(row.key_hash) == 64
        stand_in = await s.get(User, row.user_id)
        assert stand_in.telegram_id is None and stand_in.first_name == "Open311 · portal"
        assert await open311.authenticate(s, key + "x") is None and await open311.authenticate(s, None) is None
        assert await open311.revoke_key(s, "portal", utcnow()) and not await open311.revoke_key(s, "portal", utcnow())
        assert await open311.authenticate(s, key) is None
        fresh = await open311.create_key(s, "portal", utcnow())  # a revoked client may get a new key
        again = await open311.authenticate(s, fresh)
        assert fresh != key and again is not None and again.user_id == client.user_id


async def test_the_services_apply_the_privacy_filter_everywhere(world: World, demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with demo_sessionmaker() as s:
        listed = await open311.list_requests(s, world.settings, _query(utcnow()), "en")
        assert sorted(r.service_request_id for r in listed) == sorted(world.public)
        assert all(r.description is None and r.media_url is None for r in listed)
        for number in world.hidden:
            with pytest.raises(NotFound):
                await open311.one_request(s, world.settings, number, "en")
        hidden_by_id = await open311.list_requests(s, world.settings, _query(utcnow(), service_request_id=",".join(world.hidden)),
                                                   "en")
        assert hidden_by_id == []
        codes = [x.code for x in await open311.services(s, "en")]
        assert "RP-NOISE" not in codes and "RP-REPAIR" in codes
        with pytest.raises(NotFound):
            await open311.definition(s, "PX-MEDPAY", "en")
        key = await open311.create_key(s, "form", utcnow())
        client = await open311.authenticate(s, key)
        near = open311.parse_new_request({"service_code": "RP-REPAIR", "lat": "41.7437", "long": "125.9169",
                                          "description": "灯坏了"})
        filed = await open311.file_request(s, world.settings, client, near, utcnow())
        assert (await open311.one_request(s, world.settings, filed.service_request_id, "en")).address_id == "DC-XS-01-01"
        assert await open311.token_request(s, filed.token) == (filed.service_request_id, filed.token)
        far = open311.parse_new_request({"service_code": "RP-REPAIR", "lat": "41.80", "long": "125.9169",
                                         "description": "灯坏了"})
        with pytest.raises(InvalidInput) as caught:
            await open311.file_request(s, world.settings, client, far, utcnow())
        assert caught.value.code == "not_routed"


async def test_a_district_marks_a_category_private_in_its_organisation_file(demo_sessionmaker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    row = {"code": "RP-REPAIR", "kind": "report", "name_zh_hans": "设施维修", "private": "true"}
    await import_org_file(demo_sessionmaker, write_csv(tmp_path / "a.csv", {"services": [row]}))
    async with demo_sessionmaker() as s:
        assert "RP-REPAIR" not in [x.code for x in await open311.services(s, "en")]
    row["private"] = ""  # blank keeps it
    await import_org_file(demo_sessionmaker, write_csv(tmp_path / "b.csv", {"services": [row]}))
    async with demo_sessionmaker() as s:
        assert "RP-REPAIR" not in [x.code for x in await open311.services(s, "en")]
    row["private"] = "false"
    await import_org_file(demo_sessionmaker, write_csv(tmp_path / "c.csv", {"services": [row]}))
    async with demo_sessionmaker() as s:
        assert "RP-REPAIR" in [x.code for x in await open311.services(s, "en")]


async def test_the_reporters_contact_goes_with_retention_once_the_case_is_closed(world: World,
                                                                                demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    form = {"service_code": "RP-REPAIR", "address_id": "DC-XS-01-01", "description": "x", "email": "r@example.org",
            "phone": "13500001111", "first_name": "R", "account_id": "acct-9"}
    async with demo_sessionmaker() as s:
        client = await open311.authenticate(s, await open311.create_key(s, "form", utcnow()))
        old = await open311.file_request(s, world.settings, client, open311.parse_new_request(form), utcnow())
        young = await open311.file_request(s, world.settings, client, open311.parse_new_request(form), utcnow())
        still_open = await open311.file_request(s, world.settings, client, open311.parse_new_request(form), utcnow())
        for number, days in ((old.service_request_id, 31), (young.service_request_id, 29)):
            await s.execute(update(Case).where(Case.number == number).values(
                status=CaseStatus.closed, close_reason=CloseReason.auto, closed_at=utcnow() - timedelta(days=days)))
        await s.execute(update(Case).where(Case.number == still_open.service_request_id).values(
            submitted_at=utcnow() - timedelta(days=60)))
        await s.commit()
    result = await purge_expired(demo_sessionmaker, 30, utcnow(), batch=1)
    assert result.contacts_cleared == 1
    async with demo_sessionmaker() as s:
        rows = {n: (e, p, a) for n, e, p, a in (await s.execute(
            select(Case.number, Open311Request.email, Open311Request.phone, Open311Request.account_id)
            .join(Open311Request, Open311Request.case_id == Case.id))).all()}
    assert rows[old.service_request_id] == (None, None, None)
    assert rows[young.service_request_id] == rows[still_open.service_request_id] == ("r@example.org", "13500001111",
                                                                                      "acct-9")
    assert (await purge_expired(demo_sessionmaker, 30, utcnow())).contacts_cleared == 0


async def test_each_state_of_the_loop_maps_to_the_spec_and_to_its_detailed_status(
        world: World, demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    """The states the world does not reach (sent only, reopened, withdrawn)
    through the real loop; and the handling deadline as ``expected_datetime``."""
    settings = world.settings
    form = {"service_code": "RP-REPAIR", "address_id": BUILDING, "description": "楼道灯坏了"}
    async with demo_sessionmaker() as s:
        client = await open311.authenticate(s, await open311.create_key(s, "states", utcnow()))
        filer = await s.get(User, client.user_id)
        worker = await s.scalar(select(User).where(User.telegram_id == WORKER_TG))
        numbers = [(await open311.file_request(s, settings, client, open311.parse_new_request(form), utcnow()))
                   .service_request_id for _ in range(3)]
        sent, reopened, withdrawn = numbers
        ids = {n: await s.scalar(select(Case.id).where(Case.number == n)) for n in numbers}
        await cases.accept(s, settings, worker, ids[reopened], utcnow())
        await cases.resolve(s, settings, worker, ids[reopened], "换了灯泡", None, utcnow())
        await cases.reopen(s, settings, filer, ids[reopened], utcnow())
        await cases.withdraw(s, settings, filer, ids[withdrawn], utcnow())
        await s.commit()
    async with demo_sessionmaker() as s:
        listed = {r.service_request_id: r for r in await open311.list_requests(s, settings, _query(utcnow()), "en")}
        due = dict((await s.execute(select(Case.number, Case.resolve_due_at).where(Case.number.in_(numbers)))).all())
        steps: dict[str, list[str]] = {}
        for u in await open311.list_updates(s, open311.parse_update_query({}, utcnow(), settings), "en"):
            steps.setdefault(u.service_request_id, []).append(u.status)
    assert (listed[sent].status, listed[sent].detailed_status, listed[sent].status_notes) == ("open", "OPEN",
                                                                                           "waiting for a worker")
    assert (listed[reopened].status, listed[reopened].detailed_status) == ("open", "REOPEN")
    assert (listed[withdrawn].status, listed[withdrawn].detailed_status) == ("closed", "NO_FURTHER_ACTION")
    for number in numbers:
        assert due[number] is not None and listed[number].expected_datetime == due[number]
        assert open311.local_iso(listed[number].expected_datetime, settings.tz).endswith("+08:00")
    assert steps[sent] == ["OPEN"]
    assert steps[reopened] == ["OPEN", "ACTION_SCHEDULED", "FIXED", "REOPEN"]
    assert steps[withdrawn] == ["OPEN", "NO_FURTHER_ACTION"]


async def test_the_photo_link_is_in_the_case_for_the_worker_and_counts_in_its_length(
        world: World, demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    photo = "https://img.example.org/p.jpg"
    form = {"service_code": "RP-REPAIR", "address_id": BUILDING, "media_url": photo}
    async with demo_sessionmaker() as s:
        client = await open311.authenticate(s, await open311.create_key(s, "photos", utcnow()))
        only_photo = await open311.file_request(s, world.settings, client, open311.parse_new_request(form), utcnow())
        fits = await open311.file_request(s, world.settings, client,
                                          open311.parse_new_request({**form, "description": "x" * 2960}), utcnow())
        with pytest.raises(InvalidInput) as caught:  # 2,990 + the photo's line: over the case's 3,000
            await open311.file_request(s, world.settings, client,
                                       open311.parse_new_request({**form, "description": "x" * 2990}), utcnow())
        assert caught.value.code == "text_too_long"
        texts = dict((await s.execute(select(Case.number, Case.description).where(
            Case.number.in_([only_photo.service_request_id, fits.service_request_id])))).all())
        assert texts[only_photo.service_request_id] == "📷 " + photo  # what the worker reads
        assert texts[fits.service_request_id] == "x" * 2960 + "\n📷 " + photo
        published = [await open311.one_request(s, world.settings, f.service_request_id, "en") for f in (only_photo, fits)]
    assert [(p.description, p.media_url) for p in published] == [(None, photo), ("x" * 2960, photo)]


async def test_phones_emails_and_rooms_a_client_wrote_are_masked_in_what_is_published(
        world: World, demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    words = "李四 电话13912345678 或 +86 139 1234 5678，住3-501，2单元502室，Room 1204，li@example.org：2026-12-01起楼道灯坏了"
    form = {"service_code": "RP-REPAIR", "address_id": BUILDING, "description": words,
            "attribute[location_detail]": "3-2-501门口 二单元三楼"}
    hidden = ["13912345678", "139 1234 5678", "3-501", "502", "1204", "li@example.org", "3-2-501"]
    async with demo_sessionmaker() as s:
        client = await open311.authenticate(s, await open311.create_key(s, "hotline", utcnow()))
        filed = await open311.file_request(s, world.settings, client, open311.parse_new_request(form), utcnow())
        number = filed.service_request_id
        await open311.post_update(s, world.settings, client, {"service_request_id": number,
                                                              "description": "回电 0435-3212345 或 flat 3B"}, utcnow())
        await s.commit()
    async with demo_sessionmaker() as s:
        worker_reads = await s.scalar(select(Case.description).where(Case.number == number))
        published = (await open311.one_request(s, world.settings, number, "en")).description
        listed = [r.description for r in await open311.list_requests(s, world.settings, _query(utcnow()), "en")
                  if r.service_request_id == number]
        notes = [u.description for u in await open311.list_updates(
            s, open311.parse_update_query({}, utcnow(), world.settings), "en") if u.service_request_id == number]
        relayed = await s.scalar(select(CaseEvent.note).join(Case, Case.id == CaseEvent.case_id)
                                 .where(Case.number == number, CaseEvent.type == CaseEventType.message))
    assert worker_reads == words + "\n📍 3-2-501门口 二单元三楼"  # the workers read the words as sent
    assert relayed == "回电 0435-3212345 或 flat 3B"
    assert published == listed[0] == ("李四 电话*** 或 ***，住***，2单元***，***，***：2026-12-01起楼道灯坏了"
                                       "\n📍 ***门口 二单元三楼")
    assert notes[-1] == "回电 *** 或 ***"
    for secret in hidden:
        assert secret not in published and not any(secret in n for n in notes), secret
