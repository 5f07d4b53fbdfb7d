"""One resident cannot flood the grid with emergencies (issue 16): the third
emergency of the day is refused in words, nobody is alerted again, and the
request stays a draft the resident can still send as a normal case."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Case, CaseStatus, OutboxKind, OutboxMessage
from tests.e2e.cases.helpers import NUMBER_RE, RESIDENT, person, zh


async def _count(bot, *where) -> int:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(Case).where(*where)) or 0)


async def _alerts(bot) -> int:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(OutboxMessage)
                                  .where(OutboxMessage.kind == OutboxKind.emergency)) or 0)


async def test_a_third_emergency_in_a_day_is_refused(bot):
    resident = person(bot, RESIDENT)
    await resident.send("/start")
    numbers = []
    for _ in range(2):
        await resident.send(zh("🆘 Emergency"))
        sent = await resident.tap(zh("🆘 Yes, alert them now"))
        numbers.append(NUMBER_RE.search(sent[-1].text).group(0))
    assert len(set(numbers)) == 2
    alerts = await _alerts(bot)
    assert alerts > 0

    await resident.send(zh("🆘 Emergency"))
    refused = await resident.tap(zh("🆘 Yes, alert them now"))
    text = refused[-1].text
    assert "今天已发起 2 次紧急求助" in text and "110" in text, text
    assert await _count(bot, Case.resident_id.isnot(None), Case.emergency.is_(True)) == 2
    assert await _count(bot, Case.status == CaseStatus.draft) == 1
    assert await _alerts(bot) == alerts  # nobody alerted again
