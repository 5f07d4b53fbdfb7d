"""Helpers for the case loop's end-to-end tests: the bot with its delivery
engine (no quiet hours, so the time of day of the test run does not matter),
the demo personas, and waiting for what the outbox delivers."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from bot.jobs import REGISTRY, JobContext
from bot.sandbox.emulator import SentMessage
from bot.services.l10n import translator
from models import Case
from tests.conftest import BOT_TOKEN
from tests.e2e.conftest import make_settings
from tests.e2e.harness import Person, RunningBot, start_bot

zh = translator("zh-Hans")  # the demo personas read Simplified Chinese

# Demo personas (data/demo_district.yaml): the grid DC-XS-01 of Xinzhan community.
RESIDENT = 7000000040  # 王桂芝, 78, lives alone, building DC-XS-01-02
NEIGHBOUR = 7000000041  # 李志远, another grid (DC-XS-03)
HEAD = 7000000013  # 李红霞, grid head of DC-XS-01
WORKER = 7000000014  # 张伟
WORKER2 = 7000000015  # 王芳
OTHER_WORKER = 7000000032  # 谢东, DC-LQ-01
SECRETARY = 7000000002  # 刘秀梅, community staff of DC-XS
OFFICER_CG = 7000000005  # 赵海涛, urban management (CG)
ADMIN = 7000000001

NUMBER_RE = re.compile(r"DC-\d{4}-\d{6}")


async def start_cases_bot(emulator, db_url: str) -> RunningBot:  # type: ignore[no-untyped-def]
    return await start_bot(emulator, make_settings(emulator, db_url, QUIET_HOURS="", DELIVERY_CHAT_RATE=30,
                                                   DELIVERY_GLOBAL_RATE=1000), BOT_TOKEN)


def person(bot: RunningBot, user_id: int, name: str) -> Person:
    return bot.person(bot.emu.create_user(first_name=name, user_id=user_id))


async def received(p: Person, needle: str | re.Pattern[str], *, after: int = 0, timeout: float = 10.0,
                   kind: str | None = None) -> SentMessage:
    """The first bot message to ``p`` (id > ``after``) whose text or caption contains ``needle``."""

    def match(m: SentMessage) -> bool:
        content = m.content or ""
        hit = needle.search(content) if isinstance(needle, re.Pattern) else needle in content
        return bool(hit) and (kind is None or m.kind == kind)

    def find() -> SentMessage | None:
        for m in p.messages():
            if m.from_bot and m.message_id > after and match(m):
                return m
        return None

    try:
        return await p.emu.wait_for(find, timeout)
    except TimeoutError:
        recent = [(m.message_id, m.kind, (m.content or "")[:80]) for m in p.messages()[-6:]]
        raise AssertionError(f"{p.id} never got {needle!r}; last: {recent}") from None


def last_id(p: Person) -> int:
    msgs = p.messages()
    return msgs[-1].message_id if msgs else 0


async def forge(p: Person, data: str) -> None:
    """Press forged ``data`` on the person's newest bot message (or an old, inaccessible one)."""
    mine = [m.message_id for m in p.messages() if m.from_bot]
    await p.bot.settle(await p.emu.press_button(p.user, mine[-1] if mine else 10**6, data, allow_missing=True))


async def tap_in(p: Person, message: SentMessage, label: str) -> list[SentMessage]:
    """Press the button whose text contains ``label`` on that very message."""
    for row in message.inline_buttons:
        for text, data in row:
            if label in text and data:
                return await p.press(message.message_id, data)
    raise AssertionError(f"no {label!r} on message {message.message_id}: {message.inline_buttons}")


async def tap_card(p: Person, card: SentMessage, label: str) -> list[SentMessage]:
    """Press ``label`` on a case card, behind "➕ More" when the card shows only its first buttons."""
    if any(label in text for row in card.inline_buttons for text, _data in row):
        return await tap_in(p, card, label)
    edited = [m for m in await tap_in(p, card, zh("➕ More")) if m.message_id == card.message_id]
    assert edited, f"the card {card.message_id} did not open its other buttons"
    return await tap_in(p, edited[-1], label)


async def run_job(bot: RunningBot, name: str, now: datetime) -> None:
    """Run a recurring job now, as the scheduler would at ``now`` (an injected clock)."""
    await REGISTRY[name].func(JobContext(sessionmaker=bot.app.sessionmaker, settings=bot.app.settings,
                                         due_at=now, now=now))


async def case_by_number(bot: RunningBot, number: str) -> Case:
    async with bot.app.sessionmaker() as s:
        case = await s.scalar(select(Case).where(Case.number == number))
        assert case is not None, number
        return case


async def send_photo(p: Person, data: bytes = b"\xff\xd8 a photo", caption: str | None = None) -> list[SentMessage]:
    return await p._do(p.emu.send_photo(p.user, data, caption))


async def send_voice(p: Person, data: bytes = b"OggS a voice note") -> list[SentMessage]:
    return await p._do(p.emu.send_voice(p.user, data))


async def send_document(p: Person, data: bytes, filename: str) -> list[SentMessage]:
    return await p._do(p.emu.send_document(p.user, data, filename, "application/pdf"))


async def file_proxy(p: Person, item: str, when: str, authorisation: str, text: str, tr=zh) -> str:  # type: ignore[no-untyped-def]
    """A proxy errand from the menu: the item, by when, what the worker may do, the words, ✅ Send
    (labels in ``tr``'s language); its number."""
    await p.send(tr("🙋 Ask for help"))
    await p.tap(item)
    await p.tap(tr(when))
    await p.tap(tr(authorisation))
    await p.send(text)
    done = await p.send(tr("✅ Send"))
    return NUMBER_RE.search(next(m for m in done if NUMBER_RE.search(m.text or "")).text).group(0)


async def file_report(p: Person, category: str, text: str) -> str:
    """A problem report from the menu: /start, the category, the words, ✅ Send; its number."""
    await p.send("/start")
    await p.send(zh("📝 Report a problem"))
    await p.tap(category)
    await p.send(text)
    done = await p.send(zh("✅ Send"))
    return NUMBER_RE.search(done[-1].text).group(0)


async def file_text(p: Person, text: str) -> str:
    """A request typed straight at the menu: /start, the words (taken as a draft, ✅ Send
    offered), ✅ Send; its number."""
    await p.send("/start")
    answer = await p.send(text)
    assert "📥" in answer[-1].text and zh("✅ Send") in p.reply_keyboard()
    done = await p.send(zh("✅ Send"))
    return NUMBER_RE.search(done[-1].text).group(0)


async def accept(worker: Person, number: str) -> SentMessage:
    """The worker presses ✅ Accept on the new case's notice; the case card that follows."""
    note = await received(worker, number)
    await tap_in(worker, note, zh("✅ Accept"))
    return await received(worker, number, after=note.message_id)
