"""Fault injection and rate limiting for the Bot API emulator."""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bot.sandbox.emulator_types import ApiError, RateLimitHit

__all__ = ["FAULT_KINDS", "FaultHandle", "FaultInjector", "RateLimiter"]

FAULT_KINDS = frozenset({"429", "403", "400_not_found", "5xx", "delay"})


@dataclass
class FaultHandle:
    """An injected fault.  ``remove()`` cancels it; ``hits`` counts how often it fired."""

    id: int
    method: str | None
    kind: str
    retry_after: int = 1
    status: int = 502
    delay: float = 0.5
    times: int | None = 1
    chat_id: int | None = None
    description: str | None = None
    hits: int = 0
    _owner: FaultInjector | None = field(default=None, repr=False, compare=False)

    @property
    def active(self) -> bool:
        return self._owner is not None and self in self._owner.active

    @property
    def remaining(self) -> int | None:
        return None if self.times is None else max(self.times - self.hits, 0)

    def remove(self) -> None:
        if self._owner is not None:
            self._owner.remove(self)

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.method is None:
            # A method-less fault never hits getUpdates so a running poller doesn't eat it.
            if method == "getUpdates":
                return False
        elif self.method.lower() != method.lower():
            return False
        return self.chat_id is None or self.chat_id == chat_id

    def error(self) -> ApiError:
        """The error this fault answers with (not used for ``delay``)."""
        if self.kind == "429":
            err = ApiError.too_many_requests(self.retry_after)
        elif self.kind == "403":
            err = ApiError.forbidden("bot was blocked by the user")
        elif self.kind == "400_not_found":
            err = ApiError.bad_request("chat not found")
        else:
            err = ApiError.server_error(self.status)
        if self.description:
            err.description = self.description
        return err


class FaultInjector:
    """Registry of faults consulted before each Bot API call (first match wins)."""

    def __init__(self) -> None:
        self.active: list[FaultHandle] = []
        self.fired: list[tuple[float, str, FaultHandle]] = []
        self._ids = itertools.count(1)

    def inject(
        self,
        method: str | None = None,
        kind: str = "429",
        retry_after: int = 1,
        status: int = 502,
        delay: float = 0.5,
        times: int | None = 1,
        chat_id: int | None = None,
        description: str | None = None,
    ) -> FaultHandle:
        """Make the next ``times`` matching calls fail (``times=None``: until removed).

        ``kind``: ``"429"`` (Too Many Requests + ``retry_after``), ``"403"`` (bot blocked),
        ``"400_not_found"`` (chat not found), ``"5xx"`` (HTTP ``status``, default 502) or
        ``"delay"`` (answer normally after ``delay`` seconds).  ``method=None`` matches
        every method except getUpdates; ``chat_id`` restricts to calls for that chat.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if kind == "5xx" and not 500 <= status <= 599:
            raise ValueError("status must be 5xx for kind='5xx'")
        handle = FaultHandle(
            id=next(self._ids),
            method=method,
            kind=kind,
            retry_after=max(1, int(retry_after)),
            status=status,
            delay=delay,
            times=times,
            chat_id=chat_id,
            description=description,
            _owner=self,
        )
        self.active.append(handle)
        return handle

    def remove(self, handle: FaultHandle) -> None:
        if handle in self.active:
            self.active.remove(handle)

    def clear(self) -> None:
        self.active.clear()

    def take(self, method: str, chat_id: int | None) -> FaultHandle | None:
        """Return the first matching fault and count the hit (expiring it if used up)."""
        for handle in self.active:
            if handle.matches(method, chat_id):
                handle.hits += 1
                if handle.times is not None and handle.hits >= handle.times:
                    self.active.remove(handle)
                self.fired.append((time.monotonic(), method, handle))
                return handle
        return None


class RateLimiter:
    """Sliding-window caps on accepted sends: global/s, per chat/s, per group/min."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.global_per_second: int | None = None
        self.per_chat_per_second: int | None = None
        self.per_group_per_minute: int | None = None
        self.hits: list[RateLimitHit] = []
        self._clock = clock
        self._global: deque[float] = deque()
        self._chat: dict[int, deque[float]] = {}
        self._group: dict[int, deque[float]] = {}

    def configure(
        self,
        global_per_second: int | None,
        per_chat_per_second: int | None,
        per_group_per_minute: int | None,
    ) -> None:
        self.global_per_second = global_per_second
        self.per_chat_per_second = per_chat_per_second
        self.per_group_per_minute = per_group_per_minute

    @property
    def enabled(self) -> bool:
        return any(
            cap is not None
            for cap in (self.global_per_second, self.per_chat_per_second, self.per_group_per_minute)
        )

    @staticmethod
    def _retry_after(window: deque[float], cap: int, span: float, now: float) -> int | None:
        while window and window[0] <= now - span:
            window.popleft()
        if cap <= 0:
            return max(1, math.ceil(span))
        if len(window) < cap:
            return None
        # The send becomes possible once the oldest send inside the window expires.
        oldest = window[len(window) - cap]
        return max(1, math.ceil(oldest + span - now))

    def check(self, method: str, chat_id: int | None, is_group: bool) -> None:
        """Raise a 429 :class:`ApiError` if one more send would exceed a cap."""
        if not self.enabled:
            return
        now = self._clock()
        checks: list[tuple[str, deque[float], int, float]] = []
        if self.global_per_second is not None:
            checks.append(("global", self._global, self.global_per_second, 1.0))
        if chat_id is not None and self.per_chat_per_second is not None:
            checks.append(
                ("chat", self._chat.setdefault(chat_id, deque()), self.per_chat_per_second, 1.0)
            )
        if chat_id is not None and is_group and self.per_group_per_minute is not None:
            checks.append(
                ("group", self._group.setdefault(chat_id, deque()), self.per_group_per_minute, 60.0)
            )
        worst: tuple[str, int] | None = None
        for scope, window, cap, span in checks:
            wait = self._retry_after(window, cap, span, now)
            if wait is not None and (worst is None or wait > worst[1]):
                worst = (scope, wait)
        if worst is not None:
            self.hits.append(RateLimitHit(now, chat_id, method, worst[0], worst[1]))
            raise ApiError.too_many_requests(worst[1])

    def record(self, chat_id: int | None, is_group: bool) -> None:
        """Count an accepted send (only while some cap is configured)."""
        if not self.enabled:
            return
        now = self._clock()
        self._global.append(now)
        if chat_id is not None:
            self._chat.setdefault(chat_id, deque()).append(now)
            if is_group:
                self._group.setdefault(chat_id, deque()).append(now)
