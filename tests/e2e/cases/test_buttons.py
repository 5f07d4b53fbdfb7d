"""Buttons that fit (issue 20): a case on a button shows its status, number and item, at most 28
characters (real Telegram cuts longer ones); what she wrote is in the card, not on the button."""

from __future__ import annotations

from tests.e2e.cases.helpers import NUMBER_RE, RESIDENT, WORKER, file_proxy, people, person, zh

LONG = "楼下的垃圾桶已经三天没有人来清运了，味道很大，夏天还招苍蝇，老人孩子进出都要捂着鼻子，麻烦尽快派人来处理一下，谢谢你们了，辛苦了辛苦了"


async def test_case_buttons_show_number_item_and_status_within_28_characters(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    await resident.send("/start")
    await resident.send(LONG)
    free = NUMBER_RE.search((await resident.send(zh("✅ Send")))[-1].text).group(0)
    proxy = await file_proxy(resident, "养老金资格认证", "Within a week", "Only ask on my behalf and tell me the answer",
                             "帮我做今年的养老金认证")
    await worker.received(proxy)

    listing = (await resident.send(zh("📂 My cases")))[-1]
    cases = [text for row in listing.inline_buttons for text, data in row if data.startswith("cs:view:")]
    assert len(cases) == 2
    assert all(len(text) <= 28 for text in cases), cases
    assert any(free in t and zh("request") in t for t in cases)
    assert any(proxy in t and "养老金资格认证" in t for t in cases)
    assert not any("垃圾" in t or "认证" in t.split("养老金资格认证")[-1] for t in cases)  # her words stay in the card
    assert any(LONG[:30] in m.text for m in await resident.tap(free))

    # The worker's inbox lists the same way.
    inbox = (await worker.send(zh("📥 My inbox")))[-1]
    listed = [text for row in inbox.inline_buttons for text, data in row if data.startswith("cs:view:")]
    assert listed and all(len(text) <= 28 for text in listed), listed
    # Once he accepted one, it is marked his (📌), within the 28 characters, and its status icon shows once.
    await worker.tap_in(await worker.received(proxy), zh("✅ Accept"))
    inbox = (await worker.send(zh("📥 My inbox")))[-1]
    mine = next(text for row in inbox.inline_buttons for text, data in row if proxy in text)
    assert mine.startswith("📌 👷") and mine.count("👷") == 1 and len(mine) <= 28, mine
    assert "📌" in inbox.text and "👷" not in inbox.text  # the legend names the mark it uses


async def test_a_long_item_name_is_shortened_on_the_button(bot):
    resident = person(bot, RESIDENT)
    await resident.send("/start")
    await resident.send(zh("🌐 Language"))
    await resident.tap("English")
    number = await file_proxy(resident, "Disability certificate", "Within 3 days",
                              "Fill in and submit the forms for me", "please", tr=lambda s: s)
    listing = (await resident.send("📂 My cases"))[-1]
    (button,) = [text for row in listing.inline_buttons for text, data in row if data.startswith("cs:view:")]
    assert number in button and button.endswith("…") and len(button) <= 28
    assert button.split(number)[1].strip().startswith("Disab")
