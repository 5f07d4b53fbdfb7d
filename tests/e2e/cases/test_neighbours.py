"""Neighbours see nothing of each other (issue 16), through the real bot.

The attack from the issue: a stranger registers to the victim's building with
no proof, reports "the same" problem and follows her case.  Before a worker
confirms the stranger's home nothing of the neighbours is offered; after it,
the similar case is offered by number, category and status only, and
following it shows status changes only: never her words, the worker's result
note or her files.
"""

from __future__ import annotations

from sqlalchemy import select

from models import CaseFollower, User
from tests.e2e.cases.helpers import NUMBER_RE, RESIDENT, WORKER, case_by_number, people, person, zh

STRANGER = 7100000077
SECRET = "我儿子在精神病院住院，身份证号220502199001011234"
RESULT = "已联系精神病院社工，低保材料已代交"
FILE_BYTES = b"\xff\xd8 household register of the victim"


def _leaks(texts: list[str]) -> list[str]:
    needles = ("精神病院", "220502", "低保", "13904353001")
    return [t for t in texts if any(n in t for n in needles)]


async def _report_noise(p, text: str):  # type: ignore[no-untyped-def]
    await p.send(zh("📝 Report a problem"))
    await p.tap("噪音扰民")
    await p.send(text)
    return await p.send(zh("✅ Send"))


async def test_a_stranger_in_the_building_sees_nothing_of_a_neighbours_case(bot):
    victim, worker = people(bot, RESIDENT, WORKER)
    stranger = person(bot, STRANGER, "新邻居")

    # The victim reports, with a photo of her household register; the worker accepts and resolves it.
    await victim.send("/start")
    await victim.send(zh("📝 Report a problem"))
    await victim.tap("噪音扰民")
    await victim.send(SECRET)
    await victim.send_photo(FILE_BYTES)
    sent = await victim.send(zh("✅ Send"))
    number = NUMBER_RE.search(sent[-1].text).group(0)
    case = await case_by_number(bot, number)
    note = await worker.received(number)
    await worker.tap_in(note, zh("✅ Accept"))
    await worker.press(note.message_id, f"cs:res:{case.id}:0")
    await worker.send(RESULT)
    await worker.send(zh("Skip"))
    await victim.received(RESULT)

    # A stranger registers to her building with no proof: a claim.
    await stranger.send("/start")
    await stranger.tap("✅ 同意")  # the privacy notice
    await stranger.send("站前小区2号")  # a few characters of the building's name
    await stranger.tap("站前小区2号楼")
    async with bot.app.sessionmaker() as s:
        row = await s.scalar(select(User).where(User.telegram_id == STRANGER))
        assert row.building_id == case.building_id and row.home_confirmed_at is None

    # While it is a claim, "the same problem" offers nothing: the report is simply sent.
    answer = await _report_noise(stranger, "楼上太吵")
    assert number not in answer[-1].text and NUMBER_RE.search(answer[-1].text)

    # The grid's worker sees the claim in My grid and confirms it; the stranger is told.
    grid = await worker.send(zh("🗺️ My grid"))
    assert zh("🏠 Residents waiting for you to confirm their building: {count}").format(count=1) in grid[-1].text
    listing = await worker.tap(zh("🏠 Confirm residents"))
    assert "新邻居" in listing[-1].text
    await worker.tap(zh("✅ {name} lives there").format(name="新邻居"))
    await stranger.received(zh("🏠 Your grid worker has confirmed that you live in {building}.").format(
        building="站前小区2号楼"))

    # Now the offer shows her case by number, category and status only.
    await stranger.send(zh("📝 Report a problem"))
    offer = await stranger.tap("噪音扰民")  # offered as soon as the item is picked
    assert number in offer[-1].text and "噪音扰民" in offer[-1].text
    await stranger.tap(zh("👀 Follow {number}").format(number=number))
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(CaseFollower.id).where(CaseFollower.case_id == case.id)) is not None

    # Following: the card shows status only; no attachments; her case's files cannot be fetched by a forged button.
    listing = await stranger.send("/mycases")
    card = await stranger.tap(number)
    assert number in card[-1].text and zh("📎 Show attachments") not in str(card[-1].inline_buttons)
    before = len(stranger.messages())
    await stranger.press(card[-1].message_id, f"cs:files:{case.id}:0")
    after = stranger.messages()[before:]
    assert all(m.kind != "photo" for m in after)

    # The victim confirms: the follower hears of the status change, and nothing else.
    ask = await victim.received(RESULT)
    await victim.tap_in(ask, zh("✅ Solved"))
    await stranger.received(zh("🔔 Case {number} that you follow: {status}.").format(
        number=number, status=zh("closed: solved")))

    everything = [m.content or "" for m in stranger.messages()]
    assert _leaks(everything) == []
    assert all(m.kind != "photo" for m in stranger.messages())
