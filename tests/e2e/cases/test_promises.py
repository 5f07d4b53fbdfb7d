"""Promises kept (issue 20): the deadline shown to a resident is the earlier of the catalogue's
time limit and the day she needs it by, and when a worker accepts she learns the worker's
given name (never the account) and can write to them through the bot."""

from __future__ import annotations

from datetime import timedelta

from bot.services.dates import local_day
from models import utcnow
from tests.e2e.cases.helpers import RESIDENT, WORKER, case_by_number, file_proxy, people, person, zh


async def test_the_need_by_day_caps_the_promise_and_the_worker_is_named(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    tz = bot.app.settings.tz
    await resident.send("/start")
    # The catalogue allows 80 working hours for it: about two weeks.
    number = await file_proxy(resident, "残疾证办理", "Within 3 days", "Fill in and submit the forms for me",
                              "帮我办残疾证，材料都在家里")
    done = resident.messages()[-1:]
    needed = local_day(utcnow(), tz) + timedelta(days=3)
    case = await case_by_number(bot, number)
    assert case.needed_by == needed
    assert local_day(case.resolve_due_at, tz) == needed  # not the catalogue's two weeks
    assert case.resolve_due_at >= case.accept_due_at
    promised = case.resolve_due_at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    assert promised in done[-1].text

    # Accepted: she hears who (the given name), by when (the same promise), and can write to them.
    mark = resident.last_id
    note = await worker.received(number)
    await worker.tap_in(note, zh("✅ Accept"))
    accepted = await resident.received(number, after=mark)
    assert "张伟" in accepted.text and promised in accepted.text
    assert "@" not in accepted.text and str(WORKER) not in accepted.text
    await resident.tap_in(accepted, zh("💬 Write to your worker"))
    await resident.send("材料我放在门口了")
    await worker.received("材料我放在门口了")
    await resident.send(zh("✅ Done"))
    card = await resident.tap_in(accepted, zh("📄 Details"))
    assert zh("Your grid worker: {name}").format(name="张伟") in card[-1].text
    assert promised in card[-1].text


async def test_as_soon_as_possible_keeps_the_catalogue_limit(bot):
    resident = person(bot, RESIDENT)
    await resident.send("/start")
    number = await file_proxy(resident, "残疾证办理", "As soon as possible", "Fill in and submit the forms for me",
                              "帮我办残疾证")
    case = await case_by_number(bot, number)
    assert case.needed_by is None
    assert case.resolve_due_at - case.accept_due_at > timedelta(days=5)  # 80 working hours
