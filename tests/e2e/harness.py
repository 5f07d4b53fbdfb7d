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
        """Stop the bot as the tests' teardown.  A stop that hangs (seen about once in a
        full run, on PostgreSQL, after the test itself passed: an open defect, see the
        session notes) is cut short: the polling task is cancelled, the close bounded,
        and every task's stack is reported as a warning instead of hanging the run.
        The real stop path (SIGTERM within the grace) is tested on processes in
        tests/e2e/test_durability.py and tests/e2e/test_city.py."""
        self.app.request_stop()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), 15)
        except TimeoutError:
            _warn_stuck("the polling task did not end within 15 s")
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(self.task, 5)
        try:
            await asyncio.wait_for(self.app.close(), 30)
        except TimeoutError:
            _warn_stuck("GridBotApp.close() did not end within 30 s")


def _warn_stuck(what: str) -> None:
    stacks = []
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=12)
        stacks.append(f"{task.get_name()}: " + " <- ".join(
            f"{f.f_code.co_filename.rsplit('/', 2)[-1]}:{f.f_lineno} {f.f_code.co_name}" for f in frames))
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

    async def press(self, message_id: int, data: str) -> list[SentMessage]:
        return await self._do(self.emu.press_button(self.user, message_id, data))

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
        for msg in reversed(self.messages()):
            if msg.reply_keyboard is not None:
                return [b for row in msg.reply_keyboard for b in row]
        return []

    def last_callback_answer(self) -> dict:  # type: ignore[type-arg]
        return self.emu.callback_answers[-1]
