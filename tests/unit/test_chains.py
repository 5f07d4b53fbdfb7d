"""bot/chains.py: aiogram's middleware chains made once, and remade when the middlewares change."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.methods import GetMe
from aiogram.types import Update

from bot.chains import CachedRequestMiddlewares, cache_outer_chain


def _update(update_id: int) -> Update:
    return Update.model_validate({
        "update_id": update_id,
        "message": {"message_id": 1, "date": 0, "chat": {"id": 5, "type": "private"},
                    "from": {"id": 5, "is_bot": False, "first_name": "A"}, "text": "hi"},
    })


async def test_the_update_chain_is_made_once_and_remade_when_a_middleware_is_added() -> None:
    dp = Dispatcher()
    seen: list[str] = []

    async def first(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        seen.append("first")
        return await handler(event, data)

    async def second(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        seen.append("second")
        return await handler(event, data)

    @dp.message()
    async def echo(message: Any) -> str:
        seen.append(f"handler {message.text}")
        return "done"

    dp.update.outer_middleware(first)
    cache = cache_outer_chain(dp.update)
    bot = Bot("42:TEST")
    assert await dp.feed_update(bot, _update(1)) == "done"
    assert await dp.feed_update(bot, _update(2)) == "done"
    assert seen == ["first", "handler hi", "first", "handler hi"]
    assert len(cache) == 1  # one chain, used twice

    seen.clear()
    dp.update.outer_middleware(second)  # as aiogram: honoured from the next update on
    assert await dp.feed_update(bot, _update(3)) == "done"
    assert seen == ["first", "second", "handler hi"]
    dp.update.outer_middleware.unregister(first)
    seen.clear()
    assert await dp.feed_update(bot, _update(4)) == "done"
    assert seen == ["second", "handler hi"]
    await bot.session.close()


async def test_the_request_chain_is_made_once_per_timeout_and_follows_the_middlewares() -> None:
    manager = CachedRequestMiddlewares()
    calls: list[tuple[str, Any]] = []

    async def outer(make_request: Any, bot: Any, method: Any) -> Any:
        calls.append(("outer", method))
        return await make_request(bot, method)

    class Session:
        async def make_request(self, bot: Any, method: Any, timeout: int | None = None) -> Any:
            calls.append(("request", timeout))
            return "result"

    session = Session()
    manager(outer)
    chain = manager.wrap_middlewares(session.make_request, timeout=None)
    assert manager.wrap_middlewares(session.make_request, timeout=None) is chain  # a new bound method, same chain
    assert manager.wrap_middlewares(session.make_request, timeout=5) is not chain
    method = GetMe()
    assert await manager.wrap_middlewares(session.make_request, timeout=5)(None, method) == "result"
    assert calls == [("outer", method), ("request", 5)]

    manager.unregister(outer)
    calls.clear()
    assert await manager.wrap_middlewares(session.make_request, timeout=5)(None, method) == "result"
    assert calls == [("request", 5)]


async def test_the_update_goes_to_the_dispatcher_directly_until_its_observer_gains_a_middleware() -> None:
    from bot.chains import direct_update_trigger

    dp = Dispatcher()
    seen: list[str] = []

    @dp.message()
    async def echo(message: Any, handler: Any) -> str:
        seen.append(f"handler {message.text}")
        return "done"

    direct_update_trigger(dp)
    listen = dp.update.handlers[0]  # the dispatcher's _listen_update, as aiogram registered it
    checks: list[int] = []
    aiogram_check = listen.check

    async def counted_check(*args: Any, **kwargs: Any) -> Any:
        checks.append(1)
        return await aiogram_check(*args, **kwargs)

    listen.check = counted_check  # type: ignore[method-assign]
    bot = Bot("42:TEST")
    assert await dp.feed_update(bot, _update(1)) == "done"
    assert seen == ["handler hi"]
    assert checks == []  # handed over directly: aiogram's trigger did not check it

    async def inner(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        seen.append("update's inner middleware")
        return await handler(event, data)

    dp.update.middleware(inner)  # aiogram's trigger again: the middleware runs
    seen.clear()
    assert await dp.feed_update(bot, _update(2)) == "done"
    assert seen == ["update's inner middleware", "handler hi"]
    assert checks == [1]  # aiogram's trigger again
    await bot.session.close()
