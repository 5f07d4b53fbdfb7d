"""Answers that survive Telegram's passing errors: one retrying layer for every
request a handler makes (send, edit, answer a button, delete, upload).

A request middleware of the bot's HTTP session (after ``CommitBeforeRequest``,
so the update's effects are committed before the first try and no database
lock is held while it waits):

* **429 Too Many Requests**: wait exactly the ``retry_after`` Telegram gave,
  then try again.  While it runs, no request goes to that chat (or, for a 429
  that names no chat, to any chat: a flood of the whole bot); requests to
  other chats go on.  A wait longer than ``ANSWER_MAX_WAIT`` is not waited
  for: the error goes to the handler.
* **5xx and connection errors** (the request never got an answer because no
  connection was made): tried again after a backoff with jitter, at most
  ``ANSWER_MAX_ATTEMPTS`` tries in all.
* **A timeout or a connection lost after the request left**: safe methods
  (edits, answering a button, deletes, reads) are simply tried again; a
  message sent this way may have arrived, so a ``send*`` is not repeated (the
  resident would get it twice): it is counted as an unknown outcome and
  logged, as the outbox does, and the error goes to the handler.
* **400, 403 and the other answers from Telegram** are not retried: the
  handler deals with them as before.
* **Pacing**: a message to a chat waits its turn so that one chat gets at most
  ``ANSWER_CHAT_RATE`` a second and a group ``ANSWER_GROUP_RATE`` a minute
  (Telegram's limits; ``bot.delivery.limits.ChatLimits``, the delivery
  engine's own pacer): a handler that sends three messages in a row does not
  earn a 429 in the first place.

Counters (``RetryStats``) are kept per process; nothing here knows the token.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from aiohttp import ClientConnectorError

from bot.delivery.limits import ChatLimits

log = logging.getLogger(__name__)

# Requests that deliver something new: repeating one whose outcome is unknown could deliver it twice.
_DELIVERING_PREFIXES = ("send", "copyMessage", "forwardMessage")


def delivers(method: TelegramMethod[Any]) -> bool:
    return method.__api_method__.startswith(_DELIVERING_PREFIXES)


def chat_of(method: TelegramMethod[Any]) -> int | str | None:
    return getattr(method, "chat_id", None)


def never_sent(exc: TelegramNetworkError) -> bool:
    """The request did not leave: no connection could be made."""
    return isinstance(exc.__cause__ or exc.__context__, ClientConnectorError)


class OutcomeUnknown(TelegramNetworkError):
    """A send that may or may not have arrived: not repeated."""


@dataclass(slots=True)
class RetryStats:
    retried: int = 0  # tries after a 5xx or a network error
    rate_limited: int = 0  # 429s waited out
    unknown: int = 0  # sends that may or may not have arrived (not repeated)
    gave_up: int = 0  # errors handed to the handler after the last try
    paced: int = 0  # messages that waited their chat's turn


class RetryRequests(BaseRequestMiddleware):
    def __init__(self, *, max_attempts: int = 4, backoff_base: float = 0.5, backoff_max: float = 8.0,
                 max_wait: float = 60.0, chats: ChatLimits | None = None) -> None:
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.max_wait = max_wait
        self.stats = RetryStats()
        self.chats = chats
        self._paused_until: dict[int | str | None, float] = {}  # chat (None: every chat) -> monotonic time

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Response[TelegramType]:
        if method.__api_method__ == "getUpdates":  # the inbound pipeline keeps its own backoff
            return await make_request(bot, method)
        chat = chat_of(method)
        attempt = 1
        while True:
            await self._wait_pauses(chat)
            paced = self.chats is not None and isinstance(chat, int) and delivers(method)
            if paced:
                await self._pace(chat)  # type: ignore[arg-type]
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if exc.retry_after > self.max_wait:
                    self.stats.gave_up += 1
                    raise
                self.stats.rate_limited += 1
                self._pause(chat, exc.retry_after)
                log.warning("429 on %s (chat %s): waiting %s s", method.__api_method__, chat, exc.retry_after)
                continue  # a 429 is not a failed try: Telegram said when to come back
            except TelegramServerError as exc:
                failure: Exception = exc
            except TelegramNetworkError as exc:
                if delivers(method) and not never_sent(exc):
                    self.stats.unknown += 1
                    log.warning("%s (chat %s): outcome unknown (%s); not sent again", method.__api_method__,
                                chat, exc.message)
                    raise OutcomeUnknown(method=method, message=exc.message) from exc
                failure = exc
            finally:
                if paced:
                    self.chats.hold(chat, time.monotonic())  # type: ignore[union-attr,arg-type]
            if attempt >= self.max_attempts:
                self.stats.gave_up += 1
                log.warning("%s (chat %s) failed after %s tries: %s", method.__api_method__, chat, attempt, failure)
                raise failure
            self.stats.retried += 1
            await asyncio.sleep(self._backoff(attempt))
            attempt += 1

    async def _pace(self, chat: int) -> None:
        """Wait for this chat's next slot, and take it."""
        assert self.chats is not None
        waited = False
        while True:
            now = time.monotonic()
            ready = self.chats.ready_at(chat, now)
            if ready <= now:
                self.chats.take(chat, now)
                self.stats.paced += waited
                return
            waited = True
            await asyncio.sleep(ready - now)

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        return delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret

    def _pause(self, chat: int | str | None, seconds: float) -> None:
        now = time.monotonic()
        for ended in [c for c, until in self._paused_until.items() if until <= now]:
            del self._paused_until[ended]
        self._paused_until[chat] = max(now + seconds, self._paused_until.get(chat, 0.0))

    async def _wait_pauses(self, chat: int | str | None) -> None:
        while True:
            now = time.monotonic()
            until = max(self._paused_until.get(None, 0.0), self._paused_until.get(chat, 0.0) if chat else 0.0)
            if until <= now:
                return
            await asyncio.sleep(until - now)
