"""Always a way back and out (issue 20): every resident and worker menu key, pressed, shows
screens that each offer a way back or out (an inline ⬅️ Back / ❌ Cancel, or the main menu
under a plain message), and no screen tells anyone to type a slash command."""

from __future__ import annotations

import re

import pytest

from bot.i18n import create_i18n
from handlers.keyboards import main_menu
from models import Role
from tests.e2e.cases.helpers import RESIDENT, WORKER, person, zh
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
    # The last inline list or prompt of the screen (cards above it carry their own actions).
    lists = [m for m in answer if m.inline_buttons]
    if lists:
        buttons = [t for row in lists[-1].inline_buttons for t, _d in row]
        assert any(t.startswith(WAY_OUT) for t in buttons), f"{key}: no way back or out in {buttons}"
    keyboard = p.reply_keyboard()
    assert menu & set(keyboard) or any(k.startswith("❌") for k in keyboard), f"{key}: stuck under {keyboard}"


@pytest.mark.parametrize("who", ["resident", "worker"])
async def test_every_menu_key_offers_a_way_back_and_no_command(bot, who):
    p = person(bot, RESIDENT) if who == "resident" else person(bot, WORKER)
    await p.send("/start")
    keys = _menu_keys({Role.worker}, resident=False) if who == "worker" else _menu_keys(set(), resident=True)
    assert keys == p.reply_keyboard()
    for key in keys:
        answer = await p.send(key)
        _check(p, key, answer)
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
