"""aiogram's middleware chains, made once instead of for every event (issue 15).

aiogram wraps an observer's middlewares around its handler each time an
event passes: one ``functools.partial`` per middleware and a
``functools.wraps`` copy of the handler, for every update, for every handler
it calls and for every request the bot makes (a recorded answer makes two:
one to record it, one to send it).  A chain depends only on the middlewares
and on the function at its end, so it is made once here and kept while they
stay the same: the middlewares are compared on each use (a handful of items,
compared by identity), so a middleware added or removed later is honoured at
the next event as aiogram would.

The chains are aiogram's own (``MiddlewareManager.wrap_middlewares``,
``RequestMiddlewareManager.wrap_middlewares``): partial objects holding no
state of an event, so one chain serves events handled at the same time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiogram import Dispatcher
from aiogram.client.session.middlewares.manager import RequestMiddlewareManager
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.dispatcher.middlewares.manager import MiddlewareManager

# Chains kept per cache: the functions at their ends are a fixed set (a bound
# method of the dispatcher, a handler, the session's make_request); a bound anyway.
MAX_CHAINS = 512


class ChainCache:
    """Chains by the function at their end (a bound method by its function and the
    identity of its object: bound methods are made anew at each attribute access, and
    aiogram's handler objects are not hashable; a chain holds its end, so an identity
    is not reused while its chain is kept)."""

    __slots__ = ("_chains", "_wrap")

    def __init__(self, wrap: Callable[..., Any]) -> None:
        self._wrap = wrap
        self._chains: dict[tuple[Any, ...], tuple[tuple[Any, ...], Any]] = {}

    def get(self, middlewares: tuple[Any, ...], end: Any, *extra: Any) -> Any:
        key = (getattr(end, "__func__", end), id(getattr(end, "__self__", None)), *extra)
        held = self._chains.get(key)
        if held is not None and held[0] == middlewares:
            return held[1]
        chain = self._wrap(middlewares, end, *extra)
        if len(self._chains) >= MAX_CHAINS:
            self._chains.clear()
        self._chains[key] = (middlewares, chain)
        return chain

    def __len__(self) -> int:
        return len(self._chains)


def cache_outer_chain(observer: TelegramEventObserver) -> ChainCache:
    """Make ``observer``'s outer middleware chain once per function it wraps (the
    dispatcher's update observer wraps its ``trigger`` around every update)."""
    manager = observer.outer_middleware
    cache = ChainCache(MiddlewareManager.wrap_middlewares)

    def wrap_outer_middleware(callback: Any, event: Any, data: dict[str, Any]) -> Any:
        return cache.get(tuple(manager._middlewares), callback)(event, data)

    observer.wrap_outer_middleware = wrap_outer_middleware  # type: ignore[method-assign]
    return cache


def inner_chain(cache: ChainCache, observers: Sequence[TelegramEventObserver], handler: Any) -> Any:
    """The inner middlewares of a handler's routers, from the dispatcher's down to its
    own (``TelegramEventObserver._resolve_middlewares``), around ``handler``."""
    middlewares = tuple(m for observer in observers for m in observer.middleware._middlewares)
    return cache.get(middlewares, handler)


class CachedRequestMiddlewares(RequestMiddlewareManager):
    """A session's request middlewares, their chain made once per function and timeout."""

    def __init__(self) -> None:
        super().__init__()
        self._cache = ChainCache(self._chain)

    def _chain(self, middlewares: tuple[Any, ...], callback: Any, timeout: Any) -> Any:
        # ``middlewares`` are this manager's own at this moment: aiogram's chain of them.
        return super().wrap_middlewares(callback, timeout=timeout)

    def wrap_middlewares(self, callback: Any, **kwargs: Any) -> Any:
        if kwargs.keys() != {"timeout"}:  # as BaseSession calls it; anything else as aiogram does
            return super().wrap_middlewares(callback, **kwargs)
        return self._cache.get(tuple(self._middlewares), callback, kwargs["timeout"])


def direct_update_trigger(dispatcher: Dispatcher) -> None:
    """The dispatcher's update observer hands the update to ``_listen_update`` directly.

    Its one handler is the dispatcher's own ``_listen_update``, with no filter and no
    inner middleware: aiogram still checks it, wraps it and sorts the keyword arguments
    for it on every update.  As long as that is so, the trigger calls it as aiogram
    would in the end (``handler`` set in the data as aiogram sets it); otherwise it is
    aiogram's trigger."""
    observer = dispatcher.update
    original = observer.trigger

    async def trigger(event: Any, **kwargs: Any) -> Any:
        handlers = observer.handlers
        if len(handlers) == 1 and not handlers[0].filters and not observer.middleware._middlewares \
                and getattr(handlers[0].callback, "__func__", None) is Dispatcher._listen_update:
            kwargs["handler"] = handlers[0]
            return await dispatcher._listen_update(event, **kwargs)
        return await original(event, **kwargs)

    observer.trigger = trigger  # type: ignore[method-assign]
