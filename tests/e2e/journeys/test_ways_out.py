"""Always a way back and out (issue 20): every resident and worker menu key, pressed, shows
screens that each offer a way back or out (an inline ⬅️ Back / ❌ Cancel, or the main menu
under a plain message), and no screen tells anyone to type a slash command."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from bot.i18n import create_i18n
from handlers.keyboards import main_menu
from models import Appointment, Role
from tests.e2e.cases.helpers import RESIDENT, SECRETARY, WORKER, file_report, person, zh
from tests.e2e.harness import Person

COMMAND = re.compile(r"(?<![\w<])/[a-z]{2,}")  # "/cancel", "/profile"; not "</b>" nor "12/24"
WAY_OUT = ("⬅️", "❌")


def _menu_keys(roles: set[Role], *, resident: bool) -> list[str]:
    """The main menu's keys as a reader of Simplified Chinese sees them."""
    i18n = create_i18n("zh-Hans")
    with i18n.context(), i18n.use_locale("zh-Hans"):
        return [b.text for row in main_menu(roles, resident=resident).keyboard for b in row]


def _check(p: Person, key: str, answer: list) -> None:  # type: ignore[type-arg]
    assert answer, f"{key}: no answer"
    menu = set(_menu_keys(set(Role), resident=True))
    for m in answer:
        text = m.text or m.caption or ""
        assert not COMMAND.search(text), f"{key}: a command to type in {text!r}"
    # The last inline list or prompt of the screen (cards above it carry their own actions) ends
    # in a row with ❌ Cancel and, under a list, a way back (⬅️ ...); a prompt for a typed answer
    # may have ❌ Cancel alone.
    lists = [m for m in answer if m.inline_buttons]
    if lists:
        rows = lists[-1].inline_buttons
        last = [t for t, _d in rows[-1]]
        assert zh("❌ Cancel") in last and (len(rows) == 1 or any(t.startswith(WAY_OUT[0]) for t in last)), \
            f"{key}: no ⬅️ / ❌ Cancel row under {lists[-1].text!r}: {rows}"
    keyboard = p.reply_keyboard()
    assert menu & set(keyboard) or any(k.startswith("❌") for k in keyboard), f"{key}: stuck under {keyboard}"


async def _newcomer_waiting_for_her_building(bot) -> None:  # type: ignore[no-untyped-def]
    """A new resident of 张伟's grid registers: she waits for him to confirm her building."""
    p = bot.person(bot.emu.create_user(first_name="王秀英", language_code="zh-hans"))
    await p.send("/start")
    await p.tap("✅ 同意")
    await p.send("站前 2号")
    await p.tap("🏠 站前小区2号楼")
    await p.send("跳过")


@pytest.mark.parametrize("who", ["resident", "worker", "secretary"])
async def test_every_menu_key_offers_a_way_back_and_no_command(bot, who):
    # Lists with something in them: her case (in his inbox too) and a newcomer for him to confirm.
    await file_report(person(bot, RESIDENT), "设施维修", "楼道灯坏了")
    await _newcomer_waiting_for_her_building(bot)
    p = person(bot, {"resident": RESIDENT, "worker": WORKER, "secretary": SECRETARY}[who])
    await p.send("/start")
    keys = {"resident": lambda: _menu_keys(set(), resident=True),
            "worker": lambda: _menu_keys({Role.worker}, resident=False),
            "secretary": lambda: _menu_keys({Role.staff}, resident=False)}[who]()
    assert keys == p.reply_keyboard()
    listing = {zh("📂 My cases"), zh("📥 My inbox"), zh("🗺️ My grid")} & set(keys)
    assert len(listing) == {"resident": 1, "worker": 2, "secretary": 1}[who]
    for key in keys:
        answer = await p.send(key)
        _check(p, key, answer)
        if key in listing:  # this world gives them something to list: a list was really checked
            assert any(m.inline_buttons for m in answer), f"{key}: nothing listed"
        await p.send("/menu")  # back at the menu before the next key


async def test_the_resident_lists_lead_back_to_the_menu(bot):
    p = person(bot, RESIDENT)
    await p.send("/start")
    for key in ("🙋 Ask for help", "📝 Report a problem", "📅 Book an appointment"):
        listed = (await p.send(zh(key)))[-1]
        back = await p.tap(zh("⬅️ Back"))
        assert back[0].message_id == listed.message_id and back[0].inline_buttons == []  # the list left
        assert zh("🙋 Ask for help") in p.reply_keyboard()
    listed = (await p.send(zh("🙋 Ask for help")))[-1]
    out = await p.tap(zh("❌ Cancel"))
    assert out[0].message_id == listed.message_id and out[0].text == zh("Cancelled.")


async def test_every_step_of_a_booking_has_back_and_cancel(bot):
    """Not only the first list: the station, day, time and confirmation of a booking each end in
    ⬅️ and ❌; ❌ at the confirmation books nothing and brings the menu back."""
    p = person(bot, RESIDENT)
    await p.send("/start")
    card = (await p.send(zh("📅 Book an appointment")))[-1]
    seen = []
    for label, prefix in (("预约到站办事", None), ("新站", None), (None, "ap:day:"), (None, "ap:tm:")):
        data = next(d for row in card.inline_buttons for t, d in row
                    if (label and label in t) or (prefix and d.startswith(prefix)))
        card = next(m for m in await p.press(card.message_id, data) if m.message_id == card.message_id)
        last = [t for t, _d in card.inline_buttons[-1]]
        assert last[0].startswith("⬅️") and last[-1] == zh("❌ Cancel"), f"{card.text!r}: {last}"
        assert not COMMAND.search(card.text)
        seen.append(card.text)
    assert seen[-1].startswith(zh("Please check:")) and zh("✅ Confirm") in str(card.inline_buttons)
    out = await p.tap_in(card, zh("❌ Cancel"))
    assert out[0].message_id == card.message_id and out[0].text == zh("Cancelled.")
    assert zh("📅 Book an appointment") in p.reply_keyboard()
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Appointment)) == 0
