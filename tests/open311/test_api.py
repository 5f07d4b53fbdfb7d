"""GeoReport v2 against the real server process over HTTP: the spec's schema
rules re-expressed (every field present, status values, W3C dates with the
zone, string ids), XML parsed strictly with the standard library, the
privacy rules (no resident identity in any answer; hidden cases nowhere),
paging and date windows at their edges, and the errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot.services import open311
from models import Case, District, utcnow
from tests.open311.server import W3C, Answer, Server
from tests.open311.world import BUILDING, SECRETS, World

REQUEST_FIELDS = ["service_request_id", "status", "status_notes", "service_name", "service_code", "description",
                  "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
                  "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url"]
SERVICE_FIELDS = ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}


def check_request(item: dict) -> None:  # type: ignore[type-arg]
    """One request object as the spec describes it (JSON)."""
    assert [k for k in item if k != "extended_attributes"] == REQUEST_FIELDS
    assert isinstance(item["service_request_id"], str) and item["service_request_id"].startswith("DC-")
    assert item["status"] in ("open", "closed")
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert item[name] is None or W3C.match(item[name]), (name, item[name])
    assert item["requested_datetime"] is not None and item["updated_datetime"] is not None
    assert isinstance(item["service_code"], str) and isinstance(item["service_name"], str)
    for name in ("lat", "long"):
        assert item[name] is None or isinstance(item[name], float)


def xml_requests(answer: Answer) -> list[dict[str, str | None]]:
    root = answer.xml()
    assert root.tag == "service_requests"
    out = []
    for request in root:
        assert request.tag == "request"
        assert [c.tag for c in request if c.tag != "extended_attributes"] == REQUEST_FIELDS
        out.append({c.tag: c.text for c in request})
    return out


async def test_services_and_definitions_in_both_formats_and_three_languages(server: Server, world: World) -> None:
    discovery = (await server.get("discovery.json")).json()
    endpoint = discovery["endpoints"][0]
    assert endpoint["url"] == server.base and endpoint["formats"] == ["text/xml", "application/json"]
    assert W3C.match(discovery["changeset"]) and endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert (await server.get("discovery.xml")).xml().findtext("endpoints/endpoint/formats/format") == "text/xml"
    zh = await server.get("services.json")
    assert zh.status == 200 and zh.headers["Content-Type"].startswith("application/json")
    assert zh.headers["Access-Control-Allow-Origin"] == "*"  # open data: readable from a browser anywhere
    services = zh.json()
    assert isinstance(services, list) and services
    codes = [s["service_code"] for s in services]
    assert "RP-REPAIR" in codes
    assert "RP-NOISE" not in codes  # the district keeps this category private
    assert not [c for c in codes if not c.startswith("RP-")]  # proxy errands, appointments: not services
    for s in services:
        assert list(s) == SERVICE_FIELDS
        assert s["metadata"] is True and s["type"] in ("realtime", "batch", "blackbox")
        assert s["group"] == "问题反映"
    repair = {s["service_code"]: s for s in services}["RP-REPAIR"]
    assert repair["service_name"] == "设施维修"

    en = (await server.get("services.json", **{"Accept-Language": "fr;q=1, en-GB;q=0.8, zh;q=0.5"})).json()
    assert {s["service_code"]: s for s in en}["RP-REPAIR"]["group"] == "problem report"
    hant = (await server.get("services.json", {"locale": "zh-TW"}, **{"Accept-Language": "en"})).json()
    assert {s["service_code"]: s for s in hant}["RP-REPAIR"]["service_name"] == "設施維修"

    root = (await server.get("services.xml", **{"Accept-Language": "en"})).xml()
    assert root.tag == "services" and [c.tag for c in root[0]] == SERVICE_FIELDS
    assert [e.findtext("service_code") for e in root] == codes
    assert root[0].findtext("metadata") == "true"

    definition = (await server.get("services/RP-REPAIR.json")).json()
    assert isinstance(definition, dict) and definition["service_code"] == "RP-REPAIR"
    for attr in definition["attributes"]:
        assert attr["datatype"] in DATATYPES and isinstance(attr["required"], bool)
        assert isinstance(attr["variable"], bool) and isinstance(attr["order"], int) and attr["description"]
    xml = (await server.get("services/RP-REPAIR.xml")).xml()
    assert xml.tag == "service_definition" and xml.find("attributes/attribute/code").text == "location_detail"
    for missing in ("services/RP-NOISE.json", "services/PX-MEDPAY.json", "services/NOPE.xml"):
        answer = await server.get(missing)
        assert answer.status == 404, missing
    assert (await server.get("services/NOPE.xml")).xml()[0].findtext("code") == "404"


async def test_requests_follow_the_schema_and_hide_what_is_private(server: Server, world: World) -> None:
    listed = (await server.get("requests.json")).json()
    numbers = [r["service_request_id"] for r in listed]
    assert sorted(numbers) == sorted(world.public)
    for item in listed:
        check_request(item)
        assert item["description"] is None  # a resident's own words are not published
        assert item["address_id"] == "DC-XS-01-01" and item["lat"] == 41.7436 and item["long"] == 125.9168
    by_number = {r["service_request_id"]: r for r in listed}
    a, b, c, d = (by_number[n] for n in world.public)
    assert (a["status"], b["status"], c["status"], d["status"]) == ("open", "open", "open", "closed")
    assert b["agency_responsible"] != a["agency_responsible"]  # escalated: the department answers for it

    extended = {r["service_request_id"]: r["extended_attributes"]["detailed_status"]
                for r in (await server.get("requests.json", {"extensions": "true"})).json()}
    assert [extended[n] for n in world.public] == ["ACTION_SCHEDULED", "IN_PROGRESS", "FIXED", "CLOSED"]

    xml = xml_requests(await server.get("requests.xml"))
    assert [r["service_request_id"] for r in xml] == numbers
    assert all(r["zipcode"] is None and W3C.match(r["requested_datetime"] or "") for r in xml)

    one = (await server.get(f"requests/{world.public[0]}.json")).json()
    assert isinstance(one, list) and len(one) == 1 and one[0] == by_number[world.public[0]]
    assert xml_requests(await server.get(f"requests/{world.public[0]}.xml"))[0]["service_request_id"] == world.public[0]
    assert (await server.get("requests.json", {"status": "closed"})).json() == [by_number[world.public[3]]]
    assert len((await server.get("requests.json", {"status": "open"})).json()) == 3
    assert [r["service_code"] for r in (await server.get("requests.json", {"service_code": "RP-HAZARD"})).json()] \
        == ["RP-HAZARD"]
    wanted = ",".join([world.public[1], *world.hidden])
    assert [r["service_request_id"] for r in (await server.get("requests.json", {"service_request_id": wanted})).json()] \
        == [world.public[1]]

    for number in world.hidden:  # hidden everywhere, as if it did not exist
        assert (await server.get(f"requests/{number}.json")).status == 404
    updates = (await server.get("servicerequestupdates.json")).json()
    assert {u["service_request_id"] for u in updates} == set(world.public)
    for u in updates:
        assert list(u) == ["update_id", "service_request_id", "status", "updated_datetime", "description",
                           "media_url"]
        assert isinstance(u["update_id"], str) and W3C.match(u["updated_datetime"])
    assert "INTERNAL_REFERRAL" in {u["status"] for u in updates if u["service_request_id"] == world.public[1]}
    root = (await server.get("servicerequestupdates.xml")).xml()
    assert root.tag == "service_request_updates" and len(root) == len(updates)

    # The privacy sweep: nothing any answer said names a resident, their phone, username, id or room.
    await server.get("discovery.xml")
    await server.get("discovery.json")
    everything = b"\n".join(server.bodies).decode("utf-8")
    for secret in SECRETS:
        assert secret not in everything, secret
    for number in world.hidden:
        assert number not in everything


async def test_paging_and_date_windows_at_their_edges(server: Server, world: World, demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    t0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    edge = t0 + timedelta(days=90)
    async with demo_sessionmaker() as s:
        ids = list(await s.scalars(select(Case.id).where(Case.number.in_(world.public)).order_by(Case.id)))
        # The first at the window's start, the second at its very end, the third a second after it.
        for case_id, at in zip(ids, [t0, edge, edge + timedelta(seconds=1)], strict=False):
            await s.execute(update(Case).where(Case.id == case_id).values(submitted_at=at, updated_at=at))
        await s.commit()
    start, end = "2026-03-01T08:00:00+08:00", "2026-05-30T08:00:00+08:00"
    inside = (await server.get("requests.json", {"start_date": start, "end_date": end})).json()
    assert [r["service_request_id"] for r in inside] == [world.public[1], world.public[0]]  # newest first
    just_short = (await server.get("requests.json", {"start_date": "2026-03-01T00:00:01Z", "end_date": end})).json()
    assert [r["service_request_id"] for r in just_short] == [world.public[1]]
    too_long = await server.get("requests.json", {"start_date": "2026-02-28T23:59:59Z", "end_date": end})
    assert too_long.status == 400 and "90 days" in too_long.json()[0]["description"]
    # A '+' left unencoded in a query string arrives as a space: still understood.
    async with server.http.get(f"{server.base}/requests.json?start_date=2026-03-01T08:00:00+08:00") as resp:
        assert resp.status == 200 and len(await resp.json()) == 2
    only_start = (await server.get("requests.json", {"start_date": start})).json()
    assert len(only_start) == 2
    updated = (await server.get("requests.json", {"updated_after": "2026-05-30T00:00:00Z",
                                                  "updated_before": "2026-05-30T00:00:01Z"})).json()
    assert [r["service_request_id"] for r in updated] == [world.public[2], world.public[1]]  # both ends count
    updated = (await server.get("requests.json", {"updated_after": "2026-05-30T00:00:00.500Z",
                                                  "updated_before": "2026-05-30T08:00:01+08:00"})).json()
    assert [r["service_request_id"] for r in updated] == [world.public[2]]
    assert (await server.get("requests.json", {"updated_after": "2026-05-30T00:00:01Z",
                                               "updated_before": "2026-05-30T00:00:00Z"})).status == 400
    # The default window is the last 90 days: the three moved cases are older.
    assert [r["service_request_id"] for r in (await server.get("requests.json")).json()] == [world.public[3]]

    async with demo_sessionmaker() as s:  # 25 cases one minute apart, all recent
        now = datetime.now(UTC) - timedelta(hours=1)
        rows = list(await s.scalars(select(Case).where(Case.number.in_(world.public))))
        await s.execute(update(Case).where(Case.number.in_(world.public)).values(submitted_at=now, updated_at=now))
        template = rows[0]
        for i in range(21):
            s.add(Case(kind=template.kind, status=template.status, service_id=template.service_id,
                       resident_id=template.resident_id, community_id=template.community_id, grid_id=template.grid_id,
                       building_id=template.building_id, description="x", number=f"DC-2026-9{i:05d}",
                       submitted_at=now - timedelta(minutes=i + 1), updated_at=now, created_at=now))
        await s.commit()
    pages = []
    for page in (1, 2, 3, 4):
        pages.append([r["service_request_id"] for r in
                      (await server.get("requests.json", {"page": str(page), "page_size": "10"})).json()])
    assert [len(p) for p in pages] == [10, 10, 5, 0]
    flat = [n for p in pages for n in p]
    assert len(set(flat)) == 25 and flat[-1] == "DC-2026-900020"
    for bad in ({"page": "0"}, {"page_size": "0"}, {"page_size": "1001"}, {"page": "x"}, {"status": "pending"},
                {"start_date": "yesterday"}, {"end_date": "2026-13-01T00:00:00Z"}):
        answer = await server.get("requests.xml", bad)
        assert answer.status == 400, bad
        error = answer.xml()
        assert error.tag == "errors" and error[0].findtext("code") == "400" and error[0].findtext("description")
    assert (await server.get("requests.json", {"service_code": "RP-NOISE"})).status == 404
    assert (await server.get("requests.json", {"jurisdiction_id": "NOWHERE"})).status == 404
    assert (await server.get("tokens/nope.json")).status == 404
    assert (await server.get("nothing.json")).status == 404
    assert (await server.get("requests.html")).status == 404
    async with server.http.put(f"{server.base}/services.json") as resp:
        assert resp.status == 405 and (await resp.json()) == [{"code": 405, "description": "method not allowed here"}]


async def test_a_jurisdiction_keeps_every_call_to_its_district(server: Server, world: World,
                                                              demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with demo_sessionmaker() as s:  # a second district of the same database, none of whose cases are here
        s.add(District(code="DC-EAST", names={"zh-Hans": "东区", "en": "East District"}))
        key = await open311.create_key(s, "district portal", utcnow())
        await s.commit()
    here, there, nowhere = {"jurisdiction_id": "DC"}, {"jurisdiction_id": "DC-EAST"}, {"jurisdiction_id": "NOWHERE"}
    form = {"api_key": key, "service_code": "RP-REPAIR", "address_id": BUILDING, "description": "路灯不亮"}
    filed = await server.post("requests.json", {**form, **here})
    assert filed.status == 200, filed.text
    number, token = filed.json()[0]["service_request_id"], filed.json()[0]["token"]

    # Its own district: everything, as without jurisdiction_id.
    listed = [r["service_request_id"] for r in (await server.get("requests.json", here)).json()]
    assert sorted(listed) == sorted([*world.public, number])
    assert (await server.get(f"requests/{number}.json", here)).json()[0]["service_request_id"] == number
    assert (await server.get(f"tokens/{token}.json", here)).json() == [{"service_request_id": number, "token": token}]
    assert {u["service_request_id"] for u in (await server.get("servicerequestupdates.json", here)).json()} \
        == {*world.public, number}
    noted = await server.post("servicerequestupdates.json", {"api_key": key, "service_request_id": number,
                                                             "description": "晚上在家", **here})
    assert noted.status == 200, noted.text

    # Another district: none of these cases, none of their steps, no building of it to file at.
    assert (await server.get("requests.json", there)).json() == []
    assert (await server.get("servicerequestupdates.json", there)).json() == []
    assert (await server.get("requests.xml", {**there, "service_request_id": number})).xml().tag == "service_requests"
    assert len((await server.get("requests.xml", {**there, "service_request_id": number})).xml()) == 0
    for path in (f"requests/{number}.json", f"tokens/{token}.json"):
        answer = await server.get(path, there)
        assert answer.status == 404, path
    assert (await server.get("services.json", there)).json() == (await server.get("services.json")).json()
    elsewhere = await server.post("requests.json", {**form, **there})
    assert elsewhere.status == 400 and elsewhere.json()[0]["description"].startswith("address_id:")
    elsewhere = await server.post("servicerequestupdates.json", {"api_key": key, "service_request_id": number,
                                                                 "description": "x", **there})
    assert elsewhere.status == 404

    # An unknown one: 404 on every endpoint but discovery, reading or writing.
    for path in ("services.json", "services/RP-REPAIR.json", "requests.json", f"requests/{number}.json",
                 f"tokens/{token}.json", "servicerequestupdates.xml"):
        answer = await server.get(path, nowhere)
        assert answer.status == 404, path
        error = answer.xml()[0] if path.endswith(".xml") else None
        assert (error.findtext("description") if error is not None else answer.json()[0]["description"]) \
            == "jurisdiction_id not found"
    assert (await server.post("requests.json", {**form, **nowhere})).status == 404
    assert (await server.post("servicerequestupdates.json", {"api_key": key, "service_request_id": number,
                                                             "description": "x", **nowhere})).status == 404
    assert (await server.get("discovery.json", nowhere)).status == 200
    steps = [u["description"] for u in (await server.get("servicerequestupdates.json")).json()
             if u["service_request_id"] == number]
    assert steps.count("晚上在家") == 1  # the refused notes made nothing


async def test_a_post_body_that_is_not_a_form_is_refused_clearly(server: Server, world: World,
                                                                demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with demo_sessionmaker() as s:
        key = await open311.create_key(s, "web form", utcnow())
        await s.commit()
    form = {"api_key": key, "service_code": "RP-REPAIR", "address_id": BUILDING, "description": "楼道灯坏了"}
    url = f"{server.base}/requests.json"
    async with server.http.post(url, json=form) as resp:  # JSON: not read as a form that lacks its key (403)
        assert resp.status == 400
        assert "application/x-www-form-urlencoded" in (await resp.json())[0]["description"]
    broken = f"api_key={key}&service_code=RP-REPAIR&address_id={BUILDING}&description=".encode() + b"\xff\xfe"
    async with server.http.post(url, data=broken,
                                headers={"Content-Type": "application/x-www-form-urlencoded"}) as resp:
        assert resp.status == 400 and "UTF-8" in (await resp.json())[0]["description"]
    async with server.http.post(url, data={**form, "description": "长" * 30_000}) as resp:  # 64 KB and more
        assert resp.status == 400 and (await resp.json())[0]["description"] == "the form is larger than 64 KB"
    filed = await server.post("requests.json", form)  # the same, as a form
    assert filed.status == 200, filed.text
    listed = [r["service_request_id"] for r in (await server.get("requests.json")).json()]
    assert sorted(listed) == sorted([*world.public, filed.json()[0]["service_request_id"]])  # only that one
