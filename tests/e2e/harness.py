"""Drive the real bot (GridBotApp, real aiogram, real HTTP) through the emulator."""

from __future__ import annotations

import asyncio
import contextlib
import re
import warnings
from dataclasses import dataclass, field

from bot.app import GridBotApp
from bot.config import Settings
from bot.sandbox.emulator import BotAPIEmulator, EmuUser, SentMessage, UserAction


@dataclass
class RunningBot:
    emu: BotAPIEmulator
    app: GridBotApp
    task: asyncio.Task[None]

    async def settle(self, action: UserAction, timeout: float = 10.0) -> None:
        """Wait until the bot has stored and fully handled ``action``'s update."""
        await self.app.pipeline.wait_handled(action.update_id, timeout)

    def person(self, user: EmuUser) -> Person:
        return Person(self, user)

    async def stop(self) -> None:
        """Stop the bot as the tests' teardown.  A stop that does not end within its
        bounds is cut short (the polling task cancelled, the close bounded) and every
        task's chain of awaits, taken before the cancel, is reported as a warning
        instead of hanging the run: that is how the lost cancellation in the answers'
        loop was found (bot/aio.py).  The real stop path (SIGTERM within the grace)
        is tested on processes in tests/e2e/test_durability.py and tests/e2e/test_city.py."""
        self.app.request_stop()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 15)
        except TimeoutError:
            _warn_stuck("the polling task did not end within 15 s")
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.task, 5)
        closing = asyncio.create_task(self.app.close(), name="GridBotApp.close")
        done, _ = await asyncio.wait([closing], timeout=30)
        if not done:  # the stacks are taken before the cancel unwinds them
            _warn_stuck("GridBotApp.close() did not end within 30 s")
            closing.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(closing, 5)
        else:
            closing.result()


def _awaiting(task: asyncio.Task[object]) -> str:
    """Where a task is suspended: its coroutine's chain of awaits, outermost first
    (``Task.get_stack`` gives only the outermost frame of a suspended coroutine)."""
    where = []
    obj: object = task.get_coro()
    while obj is not None and len(where) < 16:
        frame = getattr(obj, "cr_frame", None) or getattr(obj, "gi_frame", None) or getattr(obj, "ag_frame", None)
        if frame is not None:
            where.append(f"{frame.f_code.co_filename.rsplit('/', 2)[-1]}:{frame.f_lineno} {frame.f_code.co_name}")
        obj = getattr(obj, "cr_await", None) or getattr(obj, "gi_yieldfrom", None) or getattr(obj, "ag_await", None)
    return " -> ".join(where)


def _warn_stuck(what: str) -> None:
    stacks = [f"{task.get_name()}: {_awaiting(task)}" for task in asyncio.all_tasks()]
    warnings.warn(f"{what}:\n" + "\n".join(stacks), RuntimeWarning, stacklevel=2)


async def start_bot(emu: BotAPIEmulator, settings: Settings, token: str) -> RunningBot:
    app = GridBotApp.create(settings, token=token)
    task = asyncio.create_task(app.run_polling())
    # The bot is ready once it is long-polling.
    await emu.wait_for(lambda: emu.long_polls_waiting() > 0, timeout=15)
    return RunningBot(emu, app, task)


@dataclass
class Person:
    bot: RunningBot
    user: EmuUser
    seen_version: int = field(default=0)

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def emu(self) -> BotAPIEmulator:
        return self.bot.emu

    def messages(self) -> list[SentMessage]:
        return self.emu.messages(self.user.id, include_deleted=False)

    @property
    def last(self) -> SentMessage:
        msgs = self.messages()
        assert msgs, "the bot has sent nothing to this chat"
        return msgs[-1]

    @property
    def last_id(self) -> int:
        """The id of the newest message in this chat (0 before any): ``after=`` for :meth:`received`."""
        msgs = self.messages()
        return msgs[-1].message_id if msgs else 0

    async def received(self, needle: str | re.Pattern[str], *, after: int = 0, timeout: float = 10.0,
                       kind: str | None = None) -> SentMessage:
        """The first bot message to this person (id > ``after``) whose text or caption contains
        ``needle``, waited for (what the outbox delivers comes after the update is handled)."""

        def match(m: SentMessage) -> bool:
            content = m.content or ""
            hit = needle.search(content) if isinstance(needle, re.Pattern) else needle in content
            return bool(hit) and (kind is None or m.kind == kind)

        def find() -> SentMessage | None:
            for m in self.messages():
                if m.from_bot and m.message_id > after and match(m):
                    return m
            return None

        try:
            return await self.emu.wait_for(find, timeout)
        except TimeoutError:
            recent = [(m.message_id, m.kind, (m.content or "")[:80]) for m in self.messages()[-6:]]
            raise AssertionError(f"{self.id} never got {needle!r}; last: {recent}") from None

    def _changed_since(self, version: int) -> list[SentMessage]:
        return [m for m in self.messages() if m.version > version]

    async def _do(self, coro) -> list[SentMessage]:  # type: ignore[no-untyped-def]
        before = self.emu.state.version
        action: UserAction = await coro
        await self.bot.settle(action)
        return self._changed_since(before)

    async def send(self, text: str) -> list[SentMessage]:
        """Send text; return the bot messages created or edited in answer."""
        return await self._do(self.emu.send_text(self.user, text))

    async def from_menu(self, label: str) -> list[SentMessage]:
        """Open the main menu, see ``label`` on its keyboard, and press it."""
        await self.send("/menu")
        assert label in self.reply_keyboard()
        return await self.send(label)

    async def share_contact(self, phone: str, *, own: bool = True) -> list[SentMessage]:
        return await self._do(self.emu.send_contact(self.user, phone, own=own))

    async def share_location(self, latitude: float, longitude: float) -> list[SentMessage]:
        return await self._do(self.emu.send_location(self.user, latitude, longitude))

    async def send_photo(self, data: bytes = b"\xff\xd8 a photo", caption: str | None = None) -> list[SentMessage]:
        return await self._do(self.emu.send_photo(self.user, data, caption))

    async def send_voice(self, data: bytes = b"OggS a voice note", duration: int = 3) -> list[SentMessage]:
        return await self._do(self.emu.send_voice(self.user, data, duration))

    async def send_document(self, data: bytes, filename: str) -> list[SentMessage]:
        return await self._do(self.emu.send_document(self.user, data, filename, "application/pdf"))

    async def press(self, message_id: int, data: str) -> list[SentMessage]:
        return await self._do(self.emu.press_button(self.user, message_id, data))

    async def tap_in(self, message: SentMessage, label: str) -> list[SentMessage]:
        """Press the button whose text contains ``label`` on that very message."""
        for row in message.inline_buttons:
            for text, data in row:
                if label in text and data:
                    return await self.press(message.message_id, data)
        raise AssertionError(f"no {label!r} on message {message.message_id}: {message.inline_buttons}")

    async def forge(self, data: str) -> None:
        """Press forged ``data`` on this person's newest bot message (or an old, inaccessible one)."""
        mine = [m.message_id for m in self.messages() if m.from_bot]
        await self.bot.settle(await self.emu.press_button(self.user, mine[-1] if mine else 10**6, data,
                                                          allow_missing=True))

    def find_button(self, label: str | re.Pattern[str]) -> tuple[SentMessage, str]:
        """The newest bot message with an inline button whose text contains ``label``."""
        for msg in reversed(self.messages()):
            for row in msg.inline_buttons:
                for text, data in row:
                    if (label.search(text) if isinstance(label, re.Pattern) else label in text) and data:
                        return msg, data
        raise AssertionError(f"no button {label!r}; last messages: {[m.content for m in self.messages()[-3:]]}")

    async def tap(self, label: str | re.Pattern[str]) -> list[SentMessage]:
        msg, data = self.find_button(label)
        return await self.press(msg.message_id, data)

    def reply_keyboard(self) -> list[str]:
        """The reply keyboard the chat shows now: the last one sent, none after a removal."""
        for msg in reversed(self.messages()):
            if msg.reply_keyboard is not None:
                return [b for row in msg.reply_keyboard for b in row]
            if (msg.reply_markup or {}).get("remove_keyboard"):
                return []
        return []

    def last_callback_answer(self) -> dict:  # type: ignore[type-arg]
        return self.emu.callback_answers[-1]
