"""Issue 16: the bot answers private data only in private chats.

A worker who owns a case asks for it in a group chat (a command, a menu
label, a forged button on a group message): the group sees a "please ask me
in a private chat" and nothing of the case, its resident or her phone; a
resident's message in a group starts no case."""

from __future__ import annotations

from sqlalchemy import func, select

from models import Case, User
from tests.e2e.cases.helpers import RESIDENT, WORKER, file_text, people, zh

PRIVATE_ONLY = zh("Please ask me in a private chat: I do not show personal information in groups.")


async def test_private_data_is_never_shown_in_a_group(bot):
    resident, worker = people(bot, RESIDENT, WORKER)
    number = await file_text(resident, "楼下垃圾三天没人清运了")
    note = await worker.received(number)
    await worker.press(note.message_id, note.inline_buttons[0][0][1])  # ✅ Accept, in private
    async with bot.app.sessionmaker() as s:
        case = await s.scalar(select(Case).where(Case.number == number))
        phone = await s.scalar(select(User.phone).where(User.telegram_id == RESIDENT))
    assert case.owner_id is not None and phone
    # In private the owner sees the phone on the card.
    card = await worker.press(note.message_id, f"cs:view:{case.id}:0")
    assert any(phone in (m.text or "") for m in card)

    emu = bot.emu
    group = emu.create_group("新站社区居民群")
    for text in ("/inbox", "/mycases", "/profile", "/start", zh("📥 My inbox"), zh("👤 My profile")):
        await bot.settle(await emu.send_text(worker.user, text, chat=group))
    await bot.settle(await emu.send_text(resident.user, "我家水管漏水了", chat=group))
    await bot.settle(await emu.send_text(resident.user, "/mycases", chat=group))
    await bot.settle(await emu.send_text(resident.user, "/mycases@another_bot", chat=group))  # not for us
    said = [m for m in emu.chat_history(group.id) if m.from_bot]
    assert said and all(m.text == PRIVATE_ONLY for m in said)
    assert len(said) == 5  # one answer per command; the menu labels and the chatter get none

    # A forged button on a group message: an alert to the presser alone, nothing posted.
    before = len(emu.chat_history(group.id))
    await bot.settle(await emu.press_button(worker.user, said[0].message_id, f"cs:view:{case.id}:0", chat=group))
    assert emu.callback_answers[-1].get("text") == PRIVATE_ONLY
    assert len(emu.chat_history(group.id)) == before
    everything = "\n".join(m.text or m.content or "" for m in emu.chat_history(group.id))
    assert phone not in everything and number not in everything and "王桂芝" not in everything
    # The resident's chatter in the group started no case.
    async with bot.app.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Case)) == 1
