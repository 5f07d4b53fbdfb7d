"""The retrying layer of the bot's requests (bot/retry.py), with a fake Bot API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiohttp import ClientConnectorError, ServerDisconnectedError
from aiohttp.client_reqrep import ConnectionKey

from bot.retry import RetryRequests


def _network_error(method: Any, cause: BaseException) -> TelegramNetworkError:
    try:
        raise TelegramNetworkError(method=method, message=type(cause).__name__) from cause
    except TelegramNetworkError as exc:
        return exc


def _connect_error() -> ClientConnectorError:
    key = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    return ClientConnectorError(key, OSError(111, "Connection refused"))


class FakeApi:
    """Answers each call with the next outcome (an exception to raise, or a result)."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[float, Any]] = []

    async def __call__(self, bot: Any, method: Any) -> Any:
        self.calls.append((time.monotonic(), method))
        outcome = self.outcomes.pop(0) if self.outcomes else "ok"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


def _layer(**kw: Any) -> RetryRequests:
    return RetryRequests(backoff_base=0.01, backoff_max=0.02, **kw)


SEND = SendMessage(chat_id=5, text="hi")
EDIT = EditMessageText(chat_id=5, message_id=1, text="hi")
PRESS = AnswerCallbackQuery(callback_query_id="q")


async def test_server_errors_are_tried_again_up_to_the_bound():
    layer = _layer(max_attempts=3)
    api = FakeApi(TelegramServerError(SEND, "Bad Gateway"), TelegramServerError(SEND, "Bad Gateway"), "sent")
    assert await layer(api, None, SEND) == "sent"  # type: ignore[arg-type]
    assert len(api.calls) == 3 and layer.stats.retried == 2
    api = FakeApi(*[TelegramServerError(SEND, "Bad Gateway")] * 5)
    with pytest.raises(TelegramServerError):
        await layer(api, None, SEND)  # type: ignore[arg-type]
    assert len(api.calls) == 3 and layer.stats.gave_up == 1


async def test_a_send_whose_outcome_is_unknown_is_not_sent_again_but_counted():
    layer = _layer()
    api = FakeApi(_network_error(SEND, TimeoutError()))
    with pytest.raises(TelegramNetworkError):
        await layer(api, None, SEND)  # type: ignore[arg-type]
    assert len(api.calls) == 1 and layer.stats.unknown == 1
    # Lost mid-way: the same.
    api = FakeApi(_network_error(SEND, ServerDisconnectedError()))
    with pytest.raises(TelegramNetworkError):
        await layer(api, None, SEND)  # type: ignore[arg-type]
    assert len(api.calls) == 1 and layer.stats.unknown == 2


async def test_a_send_that_never_left_and_safe_methods_are_tried_again():
    layer = _layer()
    api = FakeApi(_network_error(SEND, _connect_error()), "sent")
    assert await layer(api, None, SEND) == "sent"  # type: ignore[arg-type]
    for method in (EDIT, PRESS):
        api = FakeApi(_network_error(method, TimeoutError()), "done")
        assert await layer(api, None, method) == "done"  # type: ignore[arg-type]
    assert layer.stats.unknown == 0 and layer.stats.retried == 3


async def test_a_bad_request_goes_to_the_handler_at_once():
    layer = _layer()
    api = FakeApi(TelegramBadRequest(SEND, "Bad Request: chat not found"))
    with pytest.raises(TelegramBadRequest):
        await layer(api, None, SEND)  # type: ignore[arg-type]
    assert len(api.calls) == 1


async def test_a_429_pauses_that_chat_only_and_a_long_one_is_not_waited_for():
    layer = _layer(max_wait=5)
    api = FakeApi(TelegramRetryAfter(SEND, "Too Many Requests", retry_after=1), "sent", "other", "again")
    first = asyncio.create_task(layer(api, None, SEND))  # type: ignore[arg-type]
    await asyncio.sleep(0.1)  # the 429 arrived: chat 5 is paused for a second
    other = await layer(api, None, SendMessage(chat_id=6, text="x"))  # type: ignore[arg-type]
    same = await layer(api, None, SendMessage(chat_id=5, text="y"))  # type: ignore[arg-type]
    await asyncio.wait_for(asyncio.shield(first), 5)
    (t_429, _), (t_other, m_other), *later = api.calls
    assert m_other.chat_id == 6 and t_other - t_429 < 0.5  # another chat is not held
    assert [m.chat_id for _t, m in later] == [5, 5]
    assert all(t - t_429 >= 1.0 for t, _m in later)  # nothing to chat 5 before the second passed
    assert other == "sent" and {same, await first} == {"other", "again"}
    api = FakeApi(TelegramRetryAfter(SEND, "Too Many Requests", retry_after=30))
    with pytest.raises(TelegramRetryAfter):
        await layer(api, None, SEND)  # type: ignore[arg-type]
    assert len(api.calls) == 1
