"""Helpers for the case loop's end-to-end tests (and the other features' that
meet a case): the bot with its delivery engine (no quiet hours, so the time of
day of the test run does not matter), the demo personas, filing a case and
running a job.  What any person does or waits for (``received``, ``tap_in``...)
is :class:`tests.e2e.harness.Person`'s."""

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
RESIDENT = 7000000040  # 78, lives alone, building DC-XS-01-02
NEIGHBOUR = 7000000041  # another grid (DC-XS-03)
HEAD = 7000000013  # grid head of DC-XS-01
WORKER = 7000000014
WORKER2 = 7000000015
OTHER_WORKER = 7000000032  # DC-LQ-01
SECRETARY = 7000000002  # community staff of DC-XS
OFFICER_CG = 7000000005  # urban management (CG)
ADMIN = 7000000001  # district administrator
# Their first names there: what Telegram tells the bot about them.
NAMES = {RESIDENT: "王桂芝", NEIGHBOUR: "李志远", HEAD: "李红霞", WORKER: "张伟", WORKER2: "王芳",
         OTHER_WORKER: "谢东", SECRETARY: "刘秀梅", OFFICER_CG: "赵海涛", ADMIN: "周振华"}

NUMBER_RE = re.compile(r"DC-\d{4}-\d{6}")


async def start_cases_bot(emulator, db_url: str) -> RunningBot:  # type: ignore[no-untyped-def]
    return await start_bot(emulator, make_settings(emulator, db_url, QUIET_HOURS="", DELIVERY_CHAT_RATE=30,
                                                   DELIVERY_GLOBAL_RATE=1000), BOT_TOKEN)


def person(bot: RunningBot, user_id: int, name: str | None = None) -> Person:
    """The person with that Telegram id, by their demo first name unless ``name`` is given."""
    return bot.person(bot.emu.create_user(first_name=name or NAMES[user_id], user_id=user_id))


def people(bot: RunningBot, *user_ids: int) -> list[Person]:
    """Several demo personas at once, in the order given."""
    return [person(bot, user_id) for user_id in user_ids]


async def started(bot: RunningBot, *user_ids: int) -> list[Person]:
    """Demo personas who have each sent /start, in the order given."""
    them = people(bot, *user_ids)
    for p in them:
        await p.send("/start")
    return them


async def tap_card(p: Person, card: SentMessage, label: str) -> list[SentMessage]:
    """Press ``label`` on a case card, behind "➕ More" when the card shows only its first buttons."""
    if any(label in text for row in card.inline_buttons for text, _data in row):
        return await p.tap_in(card, label)
    edited = [m for m in await p.tap_in(card, zh("➕ More")) if m.message_id == card.message_id]
    assert edited, f"the card {card.message_id} did not open its other buttons"
    return await p.tap_in(edited[-1], label)


async def run_job(bot: RunningBot, name: str, now: datetime) -> None:
    """Run a recurring job now, as the scheduler would at ``now`` (an injected clock)."""
    await REGISTRY[name].func(JobContext(sessionmaker=bot.app.sessionmaker, settings=bot.app.settings,
                                         due_at=now, now=now))


async def case_by_number(bot: RunningBot, number: str) -> Case:
    async with bot.app.sessionmaker() as s:
        case = await s.scalar(select(Case).where(Case.number == number))
        assert case is not None, number
        return case


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
    note = await worker.received(number)
    await worker.tap_in(note, zh("✅ Accept"))
    return await worker.received(number, after=note.message_id)
