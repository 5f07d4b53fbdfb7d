"""A request filed through Open311 runs the same closed loop as a chat-filed
case: the grid's workers are told in Telegram (the Bot API emulator, the real
bot with its delivery engine), a worker accepts and resolves it in chat, and
the filing system reads each step back through ``servicerequestupdates``,
writes to the worker and confirms the fix the same way."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from bot.services import open311
from models import Case, CaseStatus, CloseReason, utcnow
from tests.e2e.cases.helpers import WORKER, person, start_cases_bot, zh
from tests.open311.server import start_server, stop_server


async def test_a_posted_request_is_accepted_in_chat_and_its_updates_read_back(
        emulator, db_url: str, demo_sessionmaker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    async with demo_sessionmaker() as s:
        key = await open311.create_key(s, "hotline", utcnow())
        await s.commit()
    bot = await start_cases_bot(emulator, db_url)
    server = await start_server(db_url, tmp_path / "open311.log")
    try:
        worker = person(bot, WORKER)
        filed = await server.post("requests.json", {
            "api_key": key, "service_code": "RP-REPAIR", "address_id": "DC-XS-01-01",
            "description": "一楼楼道灯不亮", "phone": "13577778888", "attribute[location_detail]": "一单元",
            "media_url": "https://img.example.org/stair.jpg"})
        assert filed.status == 200, filed.text
        number = filed.json()[0]["service_request_id"]

        # The grid's worker is told, in Chinese, with the text and the photo's link; accepts with the button.
        note = await worker.received(number)
        assert "一楼楼道灯不亮" in note.text and "13577778888" not in note.text
        assert "https://img.example.org/stair.jpg" in note.text
        published = (await server.get(f"requests/{number}.json")).json()[0]
        assert (published["description"], published["media_url"]) == ("一楼楼道灯不亮\n📍 一单元",
                                                                       "https://img.example.org/stair.jpg")
        await worker.tap_in(note, zh("✅ Accept"))
        card = await worker.received(number, after=note.message_id)
        assert "13577778888" in card.text and "Open311 · hotline" in card.text  # the owner may call the reporter

        updates = [u for u in (await server.get("servicerequestupdates.json")).json()
                   if u["service_request_id"] == number]
        assert [u["status"] for u in updates] == ["OPEN", "ACTION_SCHEDULED"]
        assert updates[1]["description"] == "已受理"
        english = (await server.get("servicerequestupdates.xml", **{"Accept-Language": "en"})).xml()
        assert [u.findtext("description") for u in english if u.findtext("service_request_id") == number] \
            == ["sent", "accepted"]
        one = (await server.get(f"requests/{number}.json", {"extensions": "true"})).json()[0]
        assert one["status"] == "open" and one["extended_attributes"]["detailed_status"] == "ACTION_SCHEDULED"

        # The filing system writes to the worker: relayed in chat, and a public update.
        mark = worker.last_id
        posted = await server.post("servicerequestupdates.xml", {
            "api_key": key, "service_request_id": number, "description": "居民说晚上七点后在家",
            "updated_datetime": "2026-12-05T10:00:00+08:00"})
        assert posted.status == 200, posted.text
        update_id = posted.xml().findtext("request_update/update_id")
        relayed = await worker.received("居民说晚上七点后在家", after=mark)
        assert "Open311 · hotline" in relayed.text
        notes = [u for u in (await server.get("servicerequestupdates.json")).json() if u["update_id"] == update_id]
        assert notes[0]["description"] == "居民说晚上七点后在家" and notes[0]["status"] == "ACTION_SCHEDULED"

        # The worker marks it done in chat; the system reads FIXED (not the worker's words), then confirms.
        case = await _case(demo_sessionmaker, number)
        await worker.press(card.message_id, f"cs:res:{case.id}:0")
        await worker.send("灯泡已更换")
        await worker.send(zh("Skip"))
        fixed = [u for u in (await server.get("servicerequestupdates.json")).json() if u["service_request_id"] == number]
        assert fixed[-1]["status"] == "FIXED" and "灯泡已更换" not in str(fixed)
        wrong = await server.post("servicerequestupdates.json", {"service_request_id": number, "status": "CLOSED"})
        assert wrong.status == 403
        other = await server.post("servicerequestupdates.json", {"api_key": key, "service_request_id": "DC-2026-999999",
                                                                 "status": "CLOSED"})
        assert other.status == 404
        mark = worker.last_id
        closed = await server.post("servicerequestupdates.json", {"api_key": key, "service_request_id": number,
                                                                  "status": "CLOSED"})
        assert closed.status == 200, closed.text
        await worker.received(number, after=mark)  # the owner hears it was confirmed
        case = await _case(demo_sessionmaker, number)
        assert case.status == CaseStatus.closed and case.close_reason == CloseReason.confirmed
        final = (await server.get(f"requests/{number}.json", {"extensions": "true"})).json()[0]
        assert final["status"] == "closed" and final["extended_attributes"]["detailed_status"] == "CLOSED"
        steps = [u["status"] for u in (await server.get("servicerequestupdates.json")).json()
                 if u["service_request_id"] == number]
        assert steps == ["OPEN", "ACTION_SCHEDULED", "ACTION_SCHEDULED", "FIXED", "CLOSED"]
        again = await server.post("servicerequestupdates.json", {"api_key": key, "service_request_id": number,
                                                                 "status": "OPEN"})
        assert again.status == 400  # closed: nothing to reopen
        assert "13577778888" not in b"".join(server.bodies).decode()
    finally:
        await stop_server(server)
        await bot.stop()
    assert emulator.unknown_methods == [] and emulator.internal_errors == []


async def _case(sessionmaker, number: str) -> Case:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        case = await s.scalar(select(Case).where(Case.number == number))
        assert case is not None
        return case


async def test_a_resident_keeps_a_report_private_from_the_card_in_chat(
        emulator, db_url: str, world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bot = await start_cases_bot(emulator, db_url)
    server = await start_server(db_url, tmp_path / "open311.log")
    try:
        resident = person(bot, 7100000001, "钱多多")  # the world's resident; world.public[0] is their report
        number = world.public[0]
        assert (await server.get(f"requests/{number}.json")).status == 200
        listing = await resident.send("/mycases")
        await resident.tap_in(listing[-1], number)
        await resident.tap_in(resident.last, zh("🔒 Keep it private"))
        assert number in resident.last_callback_answer()["text"]
        assert (await server.get(f"requests/{number}.json")).status == 404
        assert number not in [r["service_request_id"] for r in (await server.get("requests.json")).json()]
        assert number not in (await server.get("servicerequestupdates.xml")).text
        await resident.tap_in(resident.last, zh("🌐 Allow it to be public"))
        assert (await server.get(f"requests/{number}.json")).status == 200
        # A proxy errand is never public: its card offers no such choice.
        errand = world.hidden[0]
        listing = await resident.send("/mycases")
        await resident.tap_in(listing[-1], errand)
        labels = [text for row in resident.last.inline_buttons for text, _ in row]
        assert zh("🔒 Keep it private") not in labels and zh("🌐 Allow it to be public") not in labels
        forged = await resident.press(resident.last.message_id, f"cs:prv:{await _case_id(bot, errand)}:0")
        assert forged is not None and resident.last_callback_answer()["show_alert"]
    finally:
        await stop_server(server)
        await bot.stop()
    assert emulator.unknown_methods == [] and emulator.internal_errors == []


async def _case_id(bot, number: str) -> int:  # type: ignore[no-untyped-def]
    return (await _case(bot.app.sessionmaker, number)).id
