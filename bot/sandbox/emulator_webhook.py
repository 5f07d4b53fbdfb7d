"""Webhook delivery for the Bot API emulator.

One asyncio task per bot with a webhook POSTs pending updates as JSON, in order and one
at a time, with the ``X-Telegram-Bot-Api-Secret-Token`` header when a secret is set.
A non-2xx answer or a connection error is retried after an exponential backoff
(``retry_initial`` doubling up to ``retry_max`` seconds).  A 2xx answer whose body
(JSON or multipart, as aiogram sends it) carries ``"method"`` is executed as a Bot API
call, like Telegram does for replies to webhook requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from bot.sandbox.emulator_params import read_multipart
from bot.sandbox.emulator_state import BotState, EmulatorState
from bot.sandbox.emulator_types import WebhookDelivery

__all__ = ["SECRET_HEADER", "WebhookDeliverer"]

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

Executor = Callable[[str, str, dict[str, Any]], Awaitable[Any]]


class WebhookDeliverer:
    """Runs the per-bot delivery tasks; ``deliveries`` records every POST attempt."""

    def __init__(self, state: EmulatorState, execute: Executor) -> None:
        self.state = state
        self.execute = execute
        self.deliveries: list[WebhookDelivery] = []
        self.retry_initial = 0.05
        self.retry_max = 1.0
        self.timeout = 10.0
        self.running = False
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._client: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self.running = True
        for bot in self.state.bots.values():
            if bot.webhook is not None:
                self.on_change(bot)

    def on_change(self, bot: BotState) -> None:
        """(Re)start or stop the delivery task after setWebhook / deleteWebhook."""
        task = self._tasks.pop(bot.token, None)
        if task is not None:
            task.cancel()
        if bot.webhook is not None and self.running:
            self._tasks[bot.token] = asyncio.get_running_loop().create_task(self._run(bot))

    async def close(self) -> None:
        self.running = False
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._client is not None:
            await self._client.close()
            self._client = None

    def _session(self) -> aiohttp.ClientSession:
        if self._client is None or self._client.closed:
            self._client = aiohttp.ClientSession()
        return self._client

    async def _run(self, bot: BotState) -> None:
        hook = bot.webhook
        delay = self.retry_initial
        while hook is not None and bot.webhook is hook and not self.state.closing:
            await bot.signal.wait_for(
                lambda: bool(bot.pending) or bot.webhook is not hook or self.state.closing, None
            )
            if bot.webhook is not hook or self.state.closing:
                return
            update_id, _, update = bot.pending[0]
            headers = {"Content-Type": "application/json"}
            if hook.secret_token:
                headers[SECRET_HEADER] = hook.secret_token
            status: int | None = None
            error: str | None = None
            reply: dict[str, Any] | None = None
            try:
                async with self._session().post(
                    hook.url,
                    data=json.dumps(update, ensure_ascii=False),
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.timeout),
                ) as resp:
                    status = resp.status
                    if 200 <= status < 300:
                        reply = await read_webhook_reply(resp)
                    else:
                        error = f"Wrong response from the webhook: {status} {resp.reason}"
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                error = f"Connection failed: {type(exc).__name__}: {exc}"
            self.deliveries.append(
                WebhookDelivery(time.monotonic(), bot.token, update_id, hook.url, status, error)
            )
            if error is None:
                if bot.pending and bot.pending[0][0] == update_id:
                    bot.pending.pop(0)
                delay = self.retry_initial
                self.state.bump()
                if reply is not None:
                    method = reply.pop("method")
                    await self.execute(bot.token, method, reply)
                continue
            hook.last_error_date = self.state.now()
            hook.last_error_message = error
            self.state.bump()
            await asyncio.sleep(delay)  # retry backoff
            delay = min(delay * 2, self.retry_max)


async def read_webhook_reply(resp: aiohttp.ClientResponse) -> dict[str, Any] | None:
    """Decode a webhook answer that carries a Bot API method call, if any."""
    ctype = resp.content_type
    body: Any = None
    if ctype == "application/json":
        with contextlib.suppress(ValueError, aiohttp.ContentTypeError):
            body = await resp.json()
    elif ctype.startswith("multipart/"):
        body = await read_multipart(aiohttp.MultipartReader(resp.headers, resp.content))
    if isinstance(body, dict) and isinstance(body.get("method"), str):
        return body
    return None
