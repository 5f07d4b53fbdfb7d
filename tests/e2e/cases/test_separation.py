"""Issue 16, separation of duties, end to end: a problem a worker found on
patrol is fixed by a colleague and confirmed by the grid head; the finder can
neither accept it nor confirm the fix, and nobody is asked to rate it."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import cases
from models import CaseRating, CaseStatus, CloseReason, User, utcnow
from tests.e2e.cases.helpers import (
    HEAD,
    WORKER,
    WORKER2,
    case_by_number,
    person,
    received,
    tap_in,
    zh,
)
from tests.factories import SETTINGS


async def test_a_found_problem_is_fixed_and_confirmed_by_colleagues(bot):
    finder = person(bot, WORKER, "张伟")
    fixer = person(bot, WORKER2, "王芳")
    head = person(bot, HEAD, "李红霞")
    for p in (finder, fixer, head):
        await p.send("/start")
    async with bot.app.sessionmaker() as s:
        me = await s.scalar(select(User).where(User.telegram_id == WORKER))
        await s.refresh(me, ["roles"])
        grid_id = next(g.scope_id for g in me.roles)
        case = await cases.open_found_problem(s, SETTINGS, me, grid_id=grid_id, building_id=None,
                                              description="3号楼门口井盖松动", latitude=None, longitude=None,
                                              files=[], now=utcnow(), source={"source": "diary"})
        number = case.number
        await s.commit()
    note = await received(fixer, number)
    # The finder may not accept it (a forged press): refused, with the reason.
    await finder.press(finder.last.message_id, f"cs:acc:{case.id}:0")
    assert "自己提交" in finder.last_callback_answer()["text"]
    await tap_in(fixer, note, zh("✅ Accept"))
    await fixer.press(note.message_id, f"cs:res:{case.id}:0")
    await fixer.send("已更换井盖")
    done = await fixer.send(zh("Skip"))
    assert zh("✅ Case {number} is marked as done; a colleague will check it.").format(number=number) in [
        m.text for m in done]
    told = await received(finder, zh("✅ Case {number} that you found on patrol is marked as done; a colleague will "
                                     "check it.").format(number=number))
    assert not told.inline_buttons
    # The finder cannot confirm the fix; the grid head does.
    await finder.press(told.message_id, f"cs:ok:{case.id}:0")
    assert "同事" in finder.last_callback_answer()["text"]
    ask = await received(head, "已更换井盖")
    closed = await tap_in(head, ask, zh("✅ Solved"))
    assert any(zh("👍 Case {number} is closed: you confirmed it is solved.").format(number=number) == m.text
               for m in closed)
    final = await case_by_number(bot, number)
    assert final.status == CaseStatus.closed and final.close_reason == CloseReason.confirmed
    await received(fixer, zh("👍 Case {number} was checked by a colleague: solved. Thank you!").format(number=number))
    # Nobody is asked how the service was, and a forged rating is refused.
    assert not [m for m in head.messages() + finder.messages() if "cs:rate" in str(m.inline_buttons)]
    await finder.press(told.message_id, f"cs:rate:{case.id}:5")
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(CaseRating.id)) is None
