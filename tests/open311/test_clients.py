"""Real GeoReport v2 clients from PyPI against the server process:
``georeport`` 0.3.1 (reads services and requests, JSON and XML, with
``requests`` and ``xmltodict``) and ``civicbot`` 0.4.0 (reads, and files a
request: its ``create_request`` validates the form against our live service
definition first).  Both install and work on Python 3.11; they are
synchronous, so they run in a thread.  Also: API keys from the command line
(created, refused twice, revoked, stored hashed) and the per-key rate limit."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import georeport
from civicbot import Endpoint, HttpError, HttpTransport, Open311Client
from civicbot.http import RateLimiter
from sqlalchemy import select

from models import Case, CaseEvent, CaseEventType, Open311Request
from models import Open311Client as ClientRow
from tests.open311.server import W3C, Server, cli, start_server, stop_server
from tests.open311.world import SECRETS, World


def civic(server: Server, fmt: str = "json") -> Open311Client:
    endpoint = Endpoint(id="gridbot", name="gridbot test district", base_url=server.base, write=True)
    return Open311Client(endpoint, HttpTransport(rate_limiter=RateLimiter(min_interval=0)), fmt=fmt)


async def test_georeport_reads_services_and_requests_in_json_and_xml(server: Server, world: World) -> None:
    as_json = georeport.GeoReport(server.base)
    as_xml = georeport.GeoReport(server.base, output_format="xml")
    services = await asyncio.to_thread(as_json.get_service_list)
    xml_services = await asyncio.to_thread(as_xml.get_service_list)
    assert [s["service_code"] for s in services] == [s["service_code"] for s in xml_services]
    assert xml_services[0]["metadata"] == "true"
    definition = await asyncio.to_thread(as_xml.get_service_definition, "RP-REPAIR")
    assert definition["attributes"]["attribute"]["code"] == "location_detail"
    requests_ = await asyncio.to_thread(as_json.get_service_requests, status="open")
    xml_requests = await asyncio.to_thread(as_xml.get_service_requests, status="open")
    assert [r["service_request_id"] for r in requests_] == [r["service_request_id"] for r in xml_requests]
    assert len(requests_) == 3
    one = await asyncio.to_thread(as_xml.get_service_request, world.public[0])
    assert one["service_request_id"] == world.public[0] and W3C.match(one["requested_datetime"])
    assert one["description"] is None  # an empty element: unknown (not published)
    same = await asyncio.to_thread(as_json.get_service_request, world.public[0])
    assert same["address_id"] == one["address_id"] == "DC-XS-01-01"


async def test_civicbot_files_a_request_that_runs_the_loop(server: Server, world: World, db_url: str,
                                                           demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    code, out, err = await cli(db_url, "open311-key", "--name", "city portal")
    assert code == 0, err
    key = out.strip().splitlines()[-1]
    assert key.startswith("o311_")
    again = await cli(db_url, "open311-key", "--name", "city portal")
    assert again[0] == 2 and "already" in again[2]

    client = civic(server)
    services = await asyncio.to_thread(client.list_services)
    assert "RP-REPAIR" in {s["service_code"] for s in services}
    prepared = await asyncio.to_thread(
        lambda: client.create_request(
            "RP-REPAIR", dry_run=False, confirm="SEND", api_key=key, validate_remote=True, lat=41.74362,
            lng=125.91683, description="Stair light out on the ground floor", email="reporter@example.org",
            phone="+86 135 5555 0199", first_name="Reporter", last_name="Privatename",
            attributes={"location_detail": "east stairwell"}, media_url="https://img.example.org/1.jpg"))
    answer = prepared.response
    assert isinstance(answer, list) and set(answer[0]) == {"service_request_id", "token", "service_notice",
                                                          "account_id"}
    number, token = answer[0]["service_request_id"], answer[0]["token"]
    assert await asyncio.to_thread(client.get_token, token) == [{"service_request_id": number, "token": token}]
    filed = await asyncio.to_thread(client.get_request, number)
    assert filed["description"] == "Stair light out on the ground floor\n📍 east stairwell"
    assert filed["media_url"] == "https://img.example.org/1.jpg" and filed["address_id"] == "DC-XS-01-01"
    assert filed["status"] == "open" and filed["service_code"] == "RP-REPAIR"

    async with demo_sessionmaker() as s:
        case = await s.scalar(select(Case).where(Case.number == number))
        contact = await s.scalar(select(Open311Request).where(Open311Request.case_id == case.id))
        assert (contact.email, contact.phone, contact.last_name) == ("reporter@example.org", "+86 135 5555 0199",
                                                                     "Privatename")
        submitted = await s.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                           CaseEvent.type == CaseEventType.submitted))
        assert submitted.data["source"] == "open311" and submitted.data["client"] == "city portal"
        stored = await s.scalar(select(ClientRow.key_hash).where(ClientRow.name == "city portal"))
        assert stored == hashlib.sha256(key.encode()).hexdigest() and key not in stored

    # The contact never comes back out, in any answer.
    for path in ("requests.json", "requests.xml", f"requests/{number}.xml", "servicerequestupdates.json"):
        await server.get(path)
    everything = b"\n".join(server.bodies).decode()
    for secret in [*SECRETS, "reporter@example.org", "5555 0199", "Privatename"]:
        assert secret not in everything

    bad = await server.post("requests.json", {"api_key": key, "service_code": "RP-REPAIR", "lat": "10",
                                              "long": "10", "description": "far away"})
    assert bad.status == 400 and bad.json()[0]["description"].startswith("lat:")
    bad = await server.post("requests.xml", {"api_key": key, "service_code": "RP-REPAIR",
                                             "address_string": "通化市东昌区新站路18号站前小区1号楼 东门",
                                             "description": "x", "attribute[colour]": "red"})
    assert bad.status == 400 and "colour" in bad.xml()[0].findtext("description")
    by_address = await server.post("requests.json", {"api_key": key, "service_code": "RP-SANITATION",
                                                     "address_string": "通化市东昌区新站路18号站前小区1号楼 东门",
                                                     "description": "垃圾桶满了"})
    assert by_address.status == 200
    listed = (await server.get(f"requests/{by_address.json()[0]['service_request_id']}.json")).json()[0]
    assert listed["address_id"] == "DC-XS-01-01"
    private = await server.post("requests.json", {"api_key": key, "service_code": "RP-NOISE", "address_id":
                                                  "DC-XS-01-01", "description": "loud"})
    assert private.status == 404

    code, _, err = await cli(db_url, "open311-key", "--revoke", "city portal")
    assert code == 0, err
    refused = await server.post("requests.json", {"api_key": key, "service_code": "RP-REPAIR",
                                                  "address_id": "DC-XS-01-01", "description": "again"})
    assert refused.status == 403 and refused.json()[0]["code"] == 403
    try:
        await asyncio.to_thread(lambda: client.create_request("RP-REPAIR", dry_run=False, confirm="SEND", api_key=key,
                                                              address_id="DC-XS-01-01", description="again"))
    except HttpError as exc:
        assert exc.status == 403
    else:
        raise AssertionError("a revoked key filed a request")
    assert (await cli(db_url, "open311-key", "--revoke", "city portal"))[0] == 2


async def test_each_key_has_its_rate_limit(db_url: str, world: World, tmp_path: Path) -> None:
    server = await start_server(db_url, tmp_path / "open311.log", OPEN311_BURST="3", OPEN311_RATE_PER_MINUTE="1")
    try:
        key = (await cli(db_url, "open311-key", "--name", "busy"))[1].strip().splitlines()[-1]
        answers = [await server.get("services.json", {"api_key": key}) for _ in range(4)]
        assert [a.status for a in answers] == [200, 200, 200, 429]
        retry = int(answers[-1].headers["Retry-After"])
        assert 1 <= retry <= 60
        assert answers[-1].json() == [{"code": 429, "description": f"too many requests: retry after {retry} seconds"}]
        assert (await server.get("services.xml")).status == 200  # another client (no key: by address)
        other = (await cli(db_url, "open311-key", "--name", "quiet"))[1].strip().splitlines()[-1]
        assert (await server.get("requests.json", {"api_key": other})).status == 200  # another key: its own limit
    finally:
        await stop_server(server)
