"""Residents' consultations end to end: the community secretary asks three
residents, they answer (one changes their mind), the closing time passes (an
injected clock runs the job), the result reaches everyone asked, anonymous;
forged and late presses are refused.  The real bot, its delivery engine and
the emulator."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from sqlalchemy import select

from bot.services import reports
from bot.services.l10n import translator
from models import Building, Consultation, ConsultationAnswer, ConsultationStatus, User, utcnow
from tests.e2e.cases.helpers import NEIGHBOUR, RESIDENT, SECRETARY, person, run_job, zh

THIRD = 8400000001  # a third resident of Xinzhan, added for the test
OUTSIDER = 7000000042  # 陈美玲, Minzhu community: not asked


async def _third_resident(bot) -> None:  # type: ignore[no-untyped-def]
    async with bot.app.sessionmaker() as s:
        building = await s.scalar(select(Building).where(Building.code == "DC-XS-01-01"))
        s.add(User(telegram_id=THIRD, first_name="孙建国", locale="zh-Hans", building_id=building.id,
                   grid_id=building.grid_id, registered_at=utcnow(), roles=[]))
        await s.commit()


async def _ask(bot, secretary) -> int:  # type: ignore[no-untyped-def]
    """The secretary asks the whole of Xinzhan community a question with three choices."""
    answer = await secretary.send("/consult")
    assert zh("🗳 Residents' consultations. No consultation yet: ask the residents a question.") in answer[-1].text
    await secretary.tap(zh("➕ Ask the residents"))
    await secretary.tap("新站")
    answer = await secretary.tap(re.compile("^✅"))
    assert answer[-1].text == zh("Type the question to ask them.")
    answer = await secretary.send("小区东门是否改为夜间关闭？")
    assert answer[-1].text == zh("How do residents answer?")
    await secretary.tap(zh("🔘 By choosing"))
    answer = await secretary.send("同意\n反对\n无所谓")
    assert zh("When does it close? Tap one, or type a time like 12-24 18:00.") in answer[-1].text
    answer = await secretary.tap(zh("In {n} days").format(n=3))
    assert zh("Ask the residents of {place} ({n}):").format(n=3, place="新站社区") in answer[-1].text
    answer = await secretary.tap(zh("✅ Send"))
    assert answer[-1].text == zh.ngettext(
        "✅ Sent to {n} resident. Results: 🗳 Consultations (the resident gets them when it closes).",
        "✅ Sent to {n} residents. Results: 🗳 Consultations (each resident gets them when it closes).", 3).format(n=3)
    async with bot.app.sessionmaker() as s:
        consultation = await s.scalar(select(Consultation))
        assert consultation is not None and consultation.asked == 3
        return consultation.id


async def test_three_residents_answer_one_changes_and_the_result_comes_back(bot, monkeypatch):
    await _third_resident(bot)
    secretary = person(bot, SECRETARY)
    residents = [person(bot, RESIDENT), person(bot, NEIGHBOUR), person(bot, THIRD, "孙建国")]
    outsider = person(bot, OUTSIDER, "陈美玲")
    cid = await _ask(bot, secretary)

    questions = [await p.received("小区东门是否改为夜间关闭") for p in residents]
    assert all("🗳" in q.text and q.inline_buttons[0][0][0] == "同意" for q in questions)
    await residents[0].tap_in(questions[0], "反对")
    assert residents[0].last_callback_answer()["text"] == zh("✅ Saved. Thank you!")
    await residents[1].tap_in(questions[1], "同意")
    await residents[2].tap_in(questions[2], "同意")
    # 王桂芝 changes her mind: one answer still, now 同意; her buttons show it.
    await residents[0].tap_in(questions[0], "同意")
    assert residents[0].last_callback_answer()["text"] == zh("✅ Changed. Thank you!")
    marked = [m for m in residents[0].messages() if m.message_id == questions[0].message_id][-1]
    assert marked.inline_buttons[0][0][0] == "✅ 同意" and marked.inline_buttons[1][0][0] == "反对"

    # Someone not asked, and a forged choice, are refused; nothing is counted.
    await outsider.forge(f"cq:a:{cid}:0")
    assert outsider.last_callback_answer()["text"] == translator("zh-Hant")(
        "That consultation is not available to you.")
    await residents[1].press(questions[1].message_id, f"cq:a:{cid}:7")
    assert residents[1].last_callback_answer()["text"] == zh("That answer is not one of the choices.")
    # A resident cannot read the results before the end, nor ask.
    await residents[1].press(questions[1].message_id, f"cq:res:{cid}:0")
    assert residents[1].last_callback_answer()["text"] == zh("You are not allowed to do that.")
    answer = await residents[1].send("/consult")
    assert answer[-1].text == zh("You are not allowed to do that.")

    # While open, the secretary sees counts only.
    async with bot.app.sessionmaker() as s:
        assert len(list(await s.scalars(select(ConsultationAnswer)))) == 3

    # The closing time passes (an injected clock): the job closes it and posts the result.
    after = {p.id: p.last_id for p in [*residents, secretary]}
    await run_job(bot, "consultations.close", utcnow() + timedelta(days=3, minutes=5))
    results = [await p.received(zh("🗳 <b>Result of the residents' consultation</b>").replace("<b>", "")
                                .replace("</b>", ""), after=after[p.id]) for p in residents]
    for r in results:
        assert zh("Answered: {answered} of {asked} asked ({pct}).").format(answered=3, asked=3, pct="100%") in r.text
        assert "同意\n" + "▇" * 10 + " 3 (100%)" in r.text
        assert "反对\n" + "░" * 10 + " 0 (0%)" in r.text
        for name in ("王桂芝", "李志远", "孙建国"):
            assert name not in r.text  # anonymous
    asker = await secretary.received("小区东门", after=after[secretary.id])
    assert "3 (100%)" in asker.text
    render, rendered_on = reports.render_counts_png, []

    def watched(*args):  # type: ignore[no-untyped-def]
        rendered_on.append(threading.current_thread() is threading.main_thread())
        return render(*args)

    monkeypatch.setattr(reports, "render_counts_png", watched)
    answer = await secretary.tap_in(asker, zh("📊 Chart"))
    assert answer[-1].kind == "photo"
    assert rendered_on == [False]  # off the event loop's thread (matplotlib's first load takes a second)

    async with bot.app.sessionmaker() as s:
        consultation = await s.get(Consultation, cid)
        assert consultation.status == ConsultationStatus.closed and consultation.salt is None  # unlinkable now
    # Too late to answer.
    await residents[2].press(questions[2].message_id, f"cq:a:{cid}:1")
    assert residents[2].last_callback_answer()["text"] == zh(
        "This consultation is closed: answers are no longer taken.")
