"""The bot's HTTP session to the Bot API: JSON bodies instead of forms.

aiogram's :class:`AiohttpSession` sends every method as a form: each field
is prepared, nested objects are JSON-encoded one by one, and aiohttp builds
and URL-encodes the form.  The Bot API accepts the same parameters as one
JSON object, which costs a single ``json.dumps``.  Requests that upload a
file go as multipart forms: through aiogram's own code, or, for an answer
recorded with its files (``bot/answers.py``), built from the recorded body and
bytes (the same fields aiogram would send).

Everything else is aiogram's: URL building, default properties (parse mode,
link previews), the request middlewares (``CommitBeforeRequest``) and the
answer, parsed and checked by ``check_response`` with the same exceptions.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any, cast

from aiogram import Bot
from aiogram.client.default import Default, DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile
from aiohttp import ClientError, FormData

from bot.chains import CachedRequestMiddlewares

# A request's JSON body serialized in advance (``bot/answers.py`` records the
# body of a deferred answer and sends that very text, then or after a restart).
prepared_body: ContextVar[str | None] = ContextVar("prepared_body", default=None)
# The files such a body points to (``attach://<name>``): name -> (filename, bytes).
Files = dict[str, tuple[str | None, bytes]]
prepared_files: ContextVar[Files | None] = ContextVar("prepared_files", default=None)
# Set while nobody will read a request's result (an answer sent after the commit, whose
# handler got a placeholder): Telegram's answer is still checked for errors, but a
# success is not made into objects (a sent message is a hundred-field model).
result_unused: ContextVar[bool] = ContextVar("result_unused", default=False)


class JsonAiohttpSession(AiohttpSession):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.middleware = CachedRequestMiddlewares()  # the request middlewares' chain made once (bot/chains.py)
        # A bot default (parse mode, link previews...) prepared once: the same four on every message.
        self._defaults: dict[str, tuple[DefaultBotProperties, Any]] = {}

    async def close(self) -> None:
        """Close; wait for TLS connections only when there can be some.

        aiogram always sleeps 250 ms after closing, which aiohttp advises for
        TLS connections to shut down cleanly.  A Bot API server reached over
        plain HTTP (a local one, or the emulator) has none to wait for.
        """
        if self.api.base.startswith("http://"):
            if self._session is not None and not self._session.closed:
                await self._session.close()
            return
        await super().close()

    def json_body(self, bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any] | None:
        """The method as one JSON object, or None when it uploads a file."""
        body, files = self.body_and_files(bot, method)
        return None if files else body

    def body_and_files(self, bot: Bot, method: TelegramMethod[Any]) -> tuple[dict[str, Any], dict[str, InputFile]]:
        """The method as one JSON object, its files named by ``attach://<name>``."""
        files: dict[str, InputFile] = {}
        body: dict[str, Any] = {}
        # Fields left empty are dropped by pydantic (in Rust) rather than one by one by
        # prepare_value, which drops them too: a message and its buttons have dozens.
        for key, value in method.model_dump(warnings=False, exclude_none=True).items():
            prepared = self._prepare(value, bot, files)
            if prepared is not None:
                body[key] = prepared
        return body, files

    def _prepare(self, value: Any, bot: Bot, files: dict[str, InputFile]) -> Any:
        """``prepare_value(value, _dumps_json=False)``: plain text, numbers and the dicts and
        lists of them (a message's text, its buttons) are walked here, everything else
        (defaults, files, dates, enums) is aiogram's.  A sent message's buttons are a
        few dozen values, and aiogram's walk makes four checks and a call for each."""
        kind = type(value)
        if kind is str or kind is int or kind is bool or kind is float:
            return value
        if kind is dict:
            prepared = {}
            for key, item in value.items():
                if (p := self._prepare(item, bot, files)) is not None:
                    prepared[key] = p
            return prepared
        if kind is list:
            return [p for item in value if (p := self._prepare(item, bot, files)) is not None]
        if kind is Default:
            return self._default(value, bot)
        return self.prepare_value(value, bot=bot, files=files, _dumps_json=False)

    def _default(self, value: Default, bot: Bot) -> Any:
        """A bot default as ``prepare_value`` makes it, made once per bot's defaults (a default
        is a plain value or a small object of them, never a file; the result is only read)."""
        cached = self._defaults.get(value.name)
        if cached is None or cached[0] is not bot.default:
            cached = self._defaults[value.name] = (
                bot.default, self.prepare_value(value, bot=bot, files={}, _dumps_json=False))
        return cached[1]

    def form(self, data: str, files: Files) -> FormData:
        """A recorded body and its files as the multipart form aiogram would build:
        every field a string (nested objects JSON), empty ones left out, then the files."""
        form = FormData(quote_fields=False)
        for key, value in self.json_loads(data).items():
            text = value if isinstance(value, str) else self.json_dumps(value)
            if text:
                form.add_field(key, text)
        for name, (filename, content) in files.items():
            form.add_field(name, content, filename=filename or name)
        return form

    async def make_request(
        self, bot: Bot, method: TelegramMethod[TelegramType], timeout: int | None = None
    ) -> TelegramType:
        data = prepared_body.get()
        if data is None:
            body = self.json_body(bot, method)
            if body is None:
                return await super().make_request(bot, method, timeout)
            data = self.json_dumps(body)
        files = prepared_files.get()
        # A form is built for each try: aiohttp consumes it.
        payload: str | FormData = data if files is None else self.form(data, files)
        headers = {"Content-Type": "application/json"} if files is None else None
        session = await self.create_session()
        url = self.api.api_url(token=bot.token, method=method.__api_method__)
        try:
            async with session.post(
                url,
                data=payload,
                headers=headers,
                timeout=self.timeout if timeout is None else timeout,
            ) as resp:
                # The Bot API answers UTF-8 JSON: decoded as such, without aiohttp's
                # look at the Content-Type for a charset (a few µs on every answer).
                raw_result = (await resp.read()).decode("utf-8", errors="replace")
        except TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        except ClientError as exc:
            # An aiohttp error may quote the URL, and the URL holds the token.
            text = f"{type(exc).__name__}: {exc}".replace(bot.token, "<token>")
            raise TelegramNetworkError(method=method, message=text) from exc
        if resp.status == 200 and result_unused.get():
            answer = self.json_loads(raw_result)
            if isinstance(answer, dict) and answer.get("ok") is True:
                return cast(TelegramType, answer.get("result"))
        response = self.check_response(bot=bot, method=method, status_code=resp.status, content=raw_result)
        return cast(TelegramType, response.result)
