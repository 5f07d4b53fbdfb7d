"""A per-user rate limit on inbound updates (USER_RATE_PER_MINUTE, USER_BURST).

Each Telegram user has a token bucket: ``USER_BURST`` updates at once, then
``USER_RATE_PER_MINUTE`` a minute.  An update over the limit is *stored and
marked done* like any other (nothing a user sent is lost: it stays in
``inbound_updates``), but no handler sees it; the user is told "please slow
down" at most once a minute, in their language, and nothing else.  Other
users' updates are handled as usual: every chat has its own queue
(``bot.inbound``) and this check costs no query of its own.

The buckets live in this process's memory (a dictionary, swept of full
buckets as it grows).  That is exact for SQLite, which runs one process.  With
several webhook processes behind a balancer each process keeps its own
buckets, so a user whose updates are spread over N processes gets up to N
times the limit; Telegram sends a chat's updates to whichever process the
balancer picks, so set the limit lower there if that matters.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Router
from aiogram.enums import ChatType
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import gettext as _

log = logging.getLogger(__name__)

NOTICE_INTERVAL = 60.0  # seconds between two "please slow down" to the same user
SWEEP_AT = 10_000  # buckets kept before full ones are swept out


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float  # monotonic time of the last refill
    noticed_at: float  # monotonic time of the last "please slow down" (-inf: never)


class Verdict:
    """What to do with one update: handle it, or drop it (with or without a notice)."""

    ALLOW, NOTICE, DROP = "allow", "notice", "drop"


class UserRateLimiter:
    """Token buckets per user id: ``burst`` at once, ``per_minute`` sustained.

    ``per_minute == 0`` turns the limit off.  Not thread-safe (one event loop)."""

    def __init__(self, per_minute: float, burst: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = per_minute > 0
        self.rate = per_minute / 60.0  # tokens a second
        self.burst = float(max(burst, 1))
        self.clock = clock
        self._buckets: dict[int | str, _Bucket] = {}
        self._sweep_at = SWEEP_AT

    def check(self, user_id: int | str) -> str:
        if not self.enabled:
            return Verdict.ALLOW
        now = self.clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self._sweep_at:
                self._sweep(now)
            self._buckets[user_id] = _Bucket(self.burst - 1.0, now, float("-inf"))
            return Verdict.ALLOW
        tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
        bucket.at = now
        if tokens >= 1.0:
            bucket.tokens = tokens - 1.0
            return Verdict.ALLOW
        bucket.tokens = tokens
        if now - bucket.noticed_at >= NOTICE_INTERVAL:
            bucket.noticed_at = now
            return Verdict.NOTICE
        return Verdict.DROP

    def wait_seconds(self, user_id: int | str) -> float:
        """Seconds until ``user_id`` may act again (0 when they may now): the
        ``Retry-After`` of an HTTP answer (the Open311 server keys by client)."""
        bucket = self._buckets.get(user_id)
        if not self.enabled or bucket is None:
            return 0.0
        tokens = min(self.burst, bucket.tokens + (self.clock() - bucket.at) * self.rate)
        return max(0.0, (1.0 - tokens) / self.rate)

    def _sweep(self, now: float) -> None:
        """Forget users whose bucket has filled up again (they are as good as new),
        unless told to slow down within the minute."""
        full = self.burst / self.rate
        self._buckets = {uid: b for uid, b in self._buckets.items()
                         if now - b.at < full or now - b.noticed_at < NOTICE_INTERVAL}
        # Many active users: sweep again only once as many more have come.
        self._sweep_at = max(SWEEP_AT, 2 * len(self._buckets))

    def __len__(self) -> int:
        return len(self._buckets)


Handler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


class RateLimitMiddleware(BaseMiddleware):
    """An outer middleware of messages, edited messages and button presses,
    after the user and their language are known (the notice is in the language
    they chose) and before any router (:meth:`setup`).  A change of the bot's
    membership (``my_chat_member``: blocked, unblocked) is never limited.

    Over the limit the handler is not called; ``DbSessionMiddleware`` then
    commits the update's done-mark alone."""

    EVENTS = ("message", "edited_message", "callback_query")

    def __init__(self, limiter: UserRateLimiter) -> None:
        self.limiter = limiter

    def setup(self, router: Router) -> None:
        for name in self.EVENTS:
            router.observers[name].outer_middleware(self)

    async def __call__(self, handler: Handler, event: TelegramObject, data: dict[str, Any]) -> Any:
        tg_user: TgUser | None = data.get("event_from_user")
        if tg_user is None or tg_user.is_bot:
            return await handler(event, data)
        verdict = self.limiter.check(tg_user.id)
        if verdict == Verdict.ALLOW:
            return await handler(event, data)
        log.info("rate limit: an update of user %s not handled (%s)", tg_user.id, verdict)
        if verdict == Verdict.NOTICE:
            await _notice(event)
        return None


async def _notice(event: TelegramObject) -> None:
    text = _("You are sending too fast. Please wait a minute, then try again.")
    if isinstance(event, CallbackQuery):
        await event.answer(text, show_alert=True)
    elif isinstance(event, Message) and event.chat.type == ChatType.PRIVATE:
        await event.answer(text)  # in a group chat the bot keeps quiet
