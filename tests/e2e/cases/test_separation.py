"""Issue 16, separation of duties, end to end, with issue 20's rule for problems found
on patrol: the worker who found it owns it and fixes it, a colleague (the grid head)
confirms the fix; the finder never confirms it, is never asked to rate it and never
gets a resident's texts about it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.services import cases
from models import CaseRating, CaseStatus, CloseReason, OutboxMessage, User, utcnow
from tests.e2e.cases.helpers import (
    HEAD,
    WORKER,
    WORKER2,
    case_by_number,
    run_job,
    started,
    tap_card,
    zh,
)
from tests.factories import SETTINGS


async def test_a_found_problem_is_fixed_by_its_finder_and_confirmed_by_a_colleague(bot):
    finder, colleague, head = await started(bot, WORKER, WORKER2, HEAD)
    async with bot.app.sessionmaker() as s:
        me = await s.scalar(select(User).where(User.telegram_id == WORKER))
        await s.refresh(me, ["roles"])
        grid_id = next(g.scope_id for g in me.roles)
        case = await cases.open_found_problem(s, SETTINGS, me, grid_id=grid_id, building_id=None,
                                              description="3号楼门口井盖松动", latitude=None, longitude=None,
                                              files=[], now=utcnow(), source={"source": "diary"})
        number = case.number
        await s.commit()
    # It is the finder's: nobody is asked to accept it; a colleague's forged accept is refused.
    await colleague.press(colleague.last.message_id, f"cs:acc:{case.id}:0")
    assert number in colleague.last_callback_answer()["text"]
    # Past its handling limit the finder hears it as its owner, never as a resident.
    await run_job(bot, "cases.time_limits", case.resolve_due_at + timedelta(minutes=1))
    await finder.received(zh("⏰ Case {number} is past its deadline; the community secretary has been told.").format(
        number=number))
    await finder.press(finder.last.message_id, f"cs:view:{case.id}:0")
    card = finder.last
    assert zh("✅ Accept") not in str(card.inline_buttons)
    # The prompt names the case and can be cancelled; then he marks it done for real.
    prompt = [m for m in await tap_card(finder, card, zh("✅ Mark as done")) if m.message_id != card.message_id][-1]
    assert prompt.text.startswith(number) and zh("❌ Cancel") in str(prompt.inline_buttons)
    await finder.tap_in(prompt, zh("❌ Cancel"))
    assert finder.last_callback_answer()["text"] == zh("Cancelled.")
    assert (await case_by_number(bot, number)).status == CaseStatus.accepted  # nothing was saved
    await tap_card(finder, card, zh("✅ Mark as done"))
    await finder.send("已更换井盖")
    done = await finder.send(zh("Skip"))
    assert zh("✅ Case {number} is marked as done; a colleague will check it.").format(number=number) in [
        m.text for m in done]
    # The finder cannot confirm the fix; the grid head does.
    await finder.press(card.message_id, f"cs:ok:{case.id}:0")
    assert "同事" in finder.last_callback_answer()["text"]
    ask = await head.received("已更换井盖")
    closed = await head.tap_in(ask, zh("✅ Solved"))
    assert any(zh("👍 Case {number} is closed: you confirmed it is solved.").format(number=number) == m.text
               for m in closed)
    final = await case_by_number(bot, number)
    assert final.status == CaseStatus.closed and final.close_reason == CloseReason.confirmed
    await finder.received(zh("👍 Case {number} was checked by a colleague: solved. Thank you!").format(number=number))
    # Nobody is asked how the service was, and a forged rating is refused.
    assert not [m for m in head.messages() + finder.messages() if "cs:rate" in str(m.inline_buttons)]
    await finder.press(card.message_id, f"cs:rate:{case.id}:5")
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(CaseRating.id)) is None
        me = await s.scalar(select(User).where(User.telegram_id == WORKER))
        to_finder = [p["text"] for p in await s.scalars(select(OutboxMessage.payload).where(
            OutboxMessage.user_id == me.id))]
    # Resident-style texts ("your case...") never reach the worker who filed it for the grid.
    for resident_text in ("⏰ Your case {number} is past its deadline. We have told the community secretary.",
                          "👷 A grid worker has accepted your case {number}. It should be done by {when}."):
        head_words = zh(resident_text).split("{number}")[0]
        assert not [t for t in to_finder if t.startswith(head_words)], resident_text
