"""Telegram Bot API emulator for offline tests and the browser sandbox.

A small aiohttp server that speaks the Bot API over real HTTP, so an unchanged aiogram
``Bot`` works against it::

    async with BotAPIEmulator() as emu:           # 127.0.0.1, random port
        emu.add_bot(token="123456:TEST")
        session = AiohttpSession(api=TelegramAPIServer.from_base(emu.base_url))
        bot = Bot("123456:TEST", session=session)
        user = emu.create_user(first_name="王")
        await emu.send_text(user, "/start")
        reply = await emu.wait_for_message(user.id)

python-telegram-bot's ``telegram`` classes are the independent schema: every served
object is a PTB object's ``to_dict()``, and what the bot sends (reply markup, commands,
scopes, menu buttons) is validated and parsed with PTB classes.  Errors use Telegram's
format ``{"ok": false, "error_code": 400, "description": "Bad Request: ..."}`` (plus
``"parameters": {"retry_after": N}`` for 429).

Bot API (``/bot{token}/{method}``, case-insensitive method, GET query / POST JSON /
urlencoded / multipart; ``/file/bot{token}/{file_path}`` downloads)
    getMe, getUpdates (offset/limit/timeout/allowed_updates long polling), setWebhook,
    deleteWebhook, getWebhookInfo, sendMessage, sendPhoto, sendDocument, sendVoice,
    sendAudio, sendVideo, sendVideoNote, sendLocation, sendContact, sendChatAction, editMessageText, editMessageCaption,
    editMessageReplyMarkup, deleteMessage, answerCallbackQuery, getFile,
    setMyCommands / getMyCommands / deleteMyCommands, setChatMenuButton,
    getChatMenuButton, getChat, close, logOut.  Unknown method -> 404 "Not Found"
    (recorded in ``unknown_methods``); unknown token -> 401 "Unauthorized".
    Validation follows Telegram (empty/too long text, caption length, BUTTON_DATA_INVALID,
    chat not found, message to edit/delete not found, message is not modified, callback
    query too old, HTML/MarkdownV2 "can't parse entities", ...).  Text limits are counted
    after entity parsing, leading/trailing whitespace is trimmed like Telegram does.
    editMessageText/Caption without ``reply_markup`` removes the inline keyboard (as
    Telegram does).  A private chat of a user created with ``started=False`` answers 403
    "bot can't initiate conversation with a user" until the user writes to a bot.

Webhooks
    After setWebhook each update is POSTed as JSON to the URL (header
    ``X-Telegram-Bot-Api-Secret-Token`` when set), one at a time per bot, in order;
    non-2xx or connection errors are retried with exponential backoff
    (``webhooks.retry_initial`` .. ``webhooks.retry_max`` seconds).  A 2xx JSON or
    multipart answer carrying ``"method"`` is executed like a Bot API call (aiogram's
    ``handle_in_background=False`` replies).  getUpdates while a webhook is set answers
    409; a second concurrent getUpdates terminates the first one with 409 as well.

Test-side API (in-process)
    ``BotAPIEmulator(host="127.0.0.1", port=0, clock=None)``; ``await start()``,
    ``await stop()``, ``async with``; ``base_url``.
    ``add_bot(token="123456:TEST", username="gridbot_test", first_name="GridBot") -> dict``
    ``create_user(first_name="王", last_name=None, username=None, language_code="zh-hans",
    user_id=None, *, started=True) -> EmuUser``; ``create_group(title, *, supergroup=False)``.
    Actions (return :class:`UserAction`; ``chat=`` sends into a group, ``token=`` picks a
    bot, default: the first bot): ``send_text``, ``send_contact``, ``send_location``,
    ``send_photo``, ``send_voice``, ``send_audio``, ``send_video``, ``send_video_note``,
    ``send_document``, ``press_button``,
    ``edit_user_message``.
    Reading: ``messages(chat_id)``, ``user_messages(chat_id)``, ``chat_history(chat_id)``,
    ``message(chat_id, message_id)``, ``last_message(chat_id)`` -> :class:`SentMessage`
    snapshots; ``await wait_for_message(chat_id, predicate=None, timeout=5.0,
    after_message_id=None)``; ``await wait_for(predicate, timeout=5.0)``;
    ``callback_answers``, ``calls``, ``calls_to(method)``, ``unknown_methods``,
    ``internal_errors`` (emulator bugs answered with 500; should stay empty),
    ``commands(scope=None, language_code=None)``, ``menu_button(chat_id=None)``,
    ``file_bytes(file_id)``, ``pending_updates()``, ``long_polls_waiting()``,
    ``webhook_url()``, ``webhook_deliveries``; ``await call(token, method, params)`` runs a
    Bot API method in-process (same code path as HTTP) and returns ``(status, body)``.
    Faults and limits: ``faults.inject(method=None, kind="429"|"403"|"400_not_found"|
    "5xx"|"delay", retry_after=1, status=502, delay=0.5, times=1, chat_id=None)`` ->
    :class:`FaultHandle` (``times=None``: forever; ``method=None`` never hits getUpdates);
    ``block(user)`` / ``unblock(user)``; ``set_rate_limits(global_per_second=30,
    per_chat_per_second=1, per_group_per_minute=20)`` (``None`` disables a cap; all off by
    default) applies to the send* methods, refusals are in ``rate_limit_hits``;
    ``send_log`` lists accepted sends (monotonic time, chat id).

HTTP control API (JSON, CORS enabled; ``?token=`` selects a bot, default the first)
    ``GET  /_emu/bots`` -> ``[bot user]``; ``GET /_emu/users`` -> ``[user]``
    ``POST /_emu/users`` ``{first_name, last_name?, username?, language_code?}`` -> user
    ``POST /_emu/users/{id}/text`` ``{text, chat_id?}``
    ``POST /_emu/users/{id}/callback`` ``{message_id, data, chat_id?}``
    ``POST /_emu/users/{id}/contact`` ``{phone_number, first_name?}``
    ``POST /_emu/users/{id}/location`` ``{latitude, longitude, live_period?}``
    ``POST /_emu/users/{id}/photo|document|voice`` multipart ``file`` (+ ``caption``,
    ``duration``) -> ``{update_id, message_id, callback_query_id, chat_id, queued}``
    ``GET  /_emu/chats/{chat_id}/messages?since_version=N`` -> ``{"version": V,
    "messages": [...]}`` (both sides, message order, edits applied, ``from_bot`` flag,
    ``file_url`` = ``/_emu/files/{file_id}``; only messages changed after N if N > 0)
    ``GET  /_emu/chats/{chat_id}/wait?since_version=N&timeout=25`` long-polls the same.
    ``GET  /_emu/files/{file_id}`` -> raw bytes.

Standalone: ``python -m bot.sandbox.emulator --host 127.0.0.1 --port 8081 --token 123456:TEST``.

Known simplifications: inline mode, media groups, stickers, payments and other methods
are not implemented (they answer 404 and land in ``unknown_methods``); file_ids are
valid for every bot; message ids are numbered per (bot, chat); text length limits are
counted in code points; groups have no privacy mode (bots see every message) and bots
act as group admins (deleteMessage works on any message younger than 48 h); sending
an HTTP URL as a file fails ("failed to get HTTP URL content") since nothing is fetched.

Modules: ``emulator`` (server, test-side API, CLI), ``emulator_botapi`` (methods),
``emulator_params`` (request decoding, reply-markup validation), ``emulator_state``
(in-memory world), ``emulator_text`` (HTML/Markdown entity parsing), ``emulator_limits``
(faults, rate caps), ``emulator_webhook`` (delivery), ``emulator_control`` (``/_emu/``
routes), ``emulator_types`` (records).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import inspect
import json
import logging
import secrets
import signal
import time
from collections.abc import Callable
from typing import Any

import telegram
from aiohttp import web

from bot.sandbox.emulator_botapi import CHAT_METHODS, SEND_METHODS, BotApi
from bot.sandbox.emulator_control import setup_control_routes
from bot.sandbox.emulator_limits import FaultHandle, FaultInjector, RateLimiter
from bot.sandbox.emulator_params import Params, read_request_params
from bot.sandbox.emulator_state import EmulatorState, PendingCallback
from bot.sandbox.emulator_text import utf16_len
from bot.sandbox.emulator_types import (
    ApiError,
    CallRecord,
    EmuChat,
    EmulatorError,
    EmuUser,
    RateLimitHit,
    SendLogEntry,
    SentMessage,
    StoredFile,
    UserAction,
    WebhookDelivery,
    epoch_to_datetime,
)
from bot.sandbox.emulator_webhook import WebhookDeliverer

__all__ = [
    "ApiError",
    "BotAPIEmulator",
    "CallRecord",
    "EmuChat",
    "EmuUser",
    "EmulatorError",
    "FaultHandle",
    "FaultInjector",
    "RateLimitHit",
    "SendLogEntry",
    "SentMessage",
    "UserAction",
    "WebhookDelivery",
    "stop_event",
]

log = logging.getLogger(__name__)

NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}
UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
_COMMAND_PREFIX_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"

UserRef = EmuUser | int
ChatRef = EmuChat | int | None


def _json_dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


class BotAPIEmulator:
    """In-memory Telegram Bot API served over HTTP; see the module docstring."""

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, clock: Callable[[], float] | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.state = EmulatorState(clock)
        self.api = BotApi(self.state)
        self.faults = FaultInjector()
        self.rate = RateLimiter()
        self.calls: list[CallRecord] = []
        self.unknown_methods: list[str] = []
        self.internal_errors: list[str] = []
        """Unexpected emulator exceptions (answered as 500); should stay empty."""
        self.send_log: list[SendLogEntry] = []
        self.webhooks = WebhookDeliverer(self.state, self.call)
        self.state.on_webhook_change = self.webhooks.on_change
        self._runner: web.AppRunner | None = None
        self._callback_ids = iter(range(10**18 + secrets.randbelow(10**17), 10**19))

    # ------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("emulator is not started")
        return f"http://{self.host}:{self.port}"

    def build_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_cors_middleware])
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_file)
        setup_control_routes(app, self)
        return app

    async def start(self) -> BotAPIEmulator:
        if self._runner is not None:
            return self
        self.state.closing = False
        runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        if runner.addresses:
            self.port = int(runner.addresses[0][1])
        self.webhooks.start()
        return self

    async def stop(self) -> None:
        self.state.closing = True
        for bot in self.state.bots.values():
            bot.signal.notify()
        self.state.changed.notify()
        await self.webhooks.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotAPIEmulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -------------------------------------------------------- Bot API entry

    async def _handle_api(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        try:
            values = await read_request_params(request)
        except ApiError as exc:
            return web.json_response(exc.payload(), status=exc.status, dumps=_json_dumps)
        status, body = await self.call(token, method, values)
        return web.json_response(body, status=status, dumps=_json_dumps)

    async def call(
        self, token: str, method: str, params: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        """Run one Bot API method exactly as an HTTP request would; ``(status, body)``."""
        started = time.monotonic()
        p = Params(dict(params or {}))
        bot = self.state.bots.get(token)
        if bot is None or bot.logged_out:
            return self._record(method, p, 401, UNAUTHORIZED, started, None, token)
        resolved = self.api.resolve(method)
        if resolved is None:
            self.unknown_methods.append(method)
            return self._record(method, p, 404, NOT_FOUND, started, None, token)
        name, handler = resolved
        chat = self.state.chat_by_ref(p.chat_ref())
        chat_id = chat.id if chat is not None else _as_int(p.chat_ref())
        is_group = chat is not None and chat.is_group
        try:
            fault = self.faults.take(name, chat_id)
            if fault is not None:
                self.state.bump()  # lets tests wait for a fault to fire (FaultHandle.hits)
                if fault.kind != "delay":
                    raise fault.error()
                await asyncio.sleep(fault.delay)
            if name in CHAT_METHODS and chat_id in self.state.blocked:
                raise ApiError.forbidden("bot was blocked by the user")
            if name in SEND_METHODS:
                self.rate.check(name, chat_id, is_group)
            result = handler(bot, p)
            if inspect.isawaitable(result):
                result = await result
            if name in SEND_METHODS and chat_id is not None:
                self.rate.record(chat_id, is_group)
                self.send_log.append(SendLogEntry(time.monotonic(), chat_id, name, token))
            status, body = 200, {"ok": True, "result": result}
        except ApiError as exc:
            status, body = exc.status, exc.payload()
        except Exception as exc:  # an emulator bug: answer 500 JSON and keep serving
            log.exception("emulator failure in %s", name)
            self.internal_errors.append(f"{name}: {type(exc).__name__}: {exc}")
            status = 500
            body = ApiError(500, f"Internal Server Error: {type(exc).__name__}").payload()
        return self._record(name, p, status, body, started, chat_id, token)

    def _record(
        self,
        method: str,
        p: Params,
        status: int,
        body: dict[str, Any],
        started: float,
        chat_id: int | None,
        token: str,
    ) -> tuple[int, dict[str, Any]]:
        self.calls.append(
            CallRecord(
                method=method,
                params=p.recorded(),
                status=status,
                time=started,
                chat_id=chat_id,
                token=token,
                description=body.get("description"),
            )
        )
        self.state.bump()
        return status, body

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        bot = self.state.bots.get(request.match_info["token"])
        if bot is None or bot.logged_out:
            return web.json_response(UNAUTHORIZED, status=401)
        stored = self.state.files_by_path.get(request.match_info["file_path"])
        if stored is None:
            return web.json_response(NOT_FOUND, status=404)
        return web.Response(
            body=stored.data, content_type=stored.mime_type or "application/octet-stream"
        )

    # ------------------------------------------------------- test-side setup

    def add_bot(
        self,
        token: str = "123456:TEST",
        username: str = "gridbot_test",
        first_name: str = "GridBot",
    ) -> dict[str, Any]:
        """Register a bot token; the bot's user id is the numeric token prefix."""
        return self.state.add_bot(token, username, first_name).user.to_dict()

    def create_user(
        self,
        first_name: str = "王",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "zh-hans",
        user_id: int | None = None,
        *,
        started: bool = True,
    ) -> EmuUser:
        """Create a user and its private chat (chat id == user id)."""
        return self.state.add_user(first_name, last_name, username, language_code, user_id, started)

    def create_group(self, title: str = "Test group", *, supergroup: bool = False) -> EmuChat:
        """Create a group (or supergroup) chat the bots are members of."""
        return self.state.add_group(title, supergroup)

    def user(self, user_id: int) -> EmuUser:
        try:
            return self.state.users[user_id]
        except KeyError:
            raise EmulatorError(f"unknown user {user_id}") from None

    @property
    def users(self) -> list[EmuUser]:
        return list(self.state.users.values())

    def bot_user(self, token: str | None = None) -> EmuUser:
        return self.state.bot(token).user

    def block(self, user: UserRef, *, notify: bool = False, token: str | None = None) -> None:
        """The user blocks the bot(s): sends to the private chat answer 403.

        With ``notify=True`` a ``my_chat_member`` update (member -> kicked) is queued.
        """
        u = self._user(user)
        self.state.blocked.add(u.id)
        if notify:
            self._chat_member_update(u, token, blocked=True)
        self.state.bump()

    def unblock(self, user: UserRef, *, notify: bool = False, token: str | None = None) -> None:
        u = self._user(user)
        self.state.blocked.discard(u.id)
        if notify:
            self._chat_member_update(u, token, blocked=False)
        self.state.bump()

    def set_rate_limits(
        self,
        global_per_second: int | None = 30,
        per_chat_per_second: int | None = 1,
        per_group_per_minute: int | None = 20,
    ) -> None:
        """Enable Telegram-like flood caps on send* methods (``None`` disables a cap)."""
        self.rate.configure(global_per_second, per_chat_per_second, per_group_per_minute)

    @property
    def rate_limit_hits(self) -> list[RateLimitHit]:
        return self.rate.hits

    # ---------------------------------------------------------- user actions

    def _user(self, user: UserRef) -> EmuUser:
        return self.user(user.id if isinstance(user, EmuUser) else int(user))

    def _chat_for(self, user: EmuUser, chat: ChatRef) -> EmuChat:
        chat_id = user.id if chat is None else (chat.id if isinstance(chat, EmuChat) else chat)
        found = self.state.chats.get(chat_id)
        if found is None:
            raise EmulatorError(f"unknown chat {chat_id}")
        return found

    def _user_message(
        self,
        user: UserRef,
        chat: ChatRef,
        token: str | None,
        kind: str,
        **fields: Any,
    ) -> UserAction:
        u = self._user(user)
        target = self._chat_for(u, chat)
        bot = self.state.bot(token)
        self.state.unstarted.discard(u.id)
        self.state.blocked.discard(u.id)
        msg = self.state.add_message(
            bot.token, target, from_bot=False, sender_id=u.id, kind=kind, **fields
        )
        ptb = self.state.ptb_message(msg)
        update_id, update, queued = self.state.enqueue(
            bot.token, "message", lambda uid: telegram.Update(uid, message=ptb)
        )
        return UserAction(update_id, update, target.id, message_id=msg.message_id, queued=queued)

    def _user_file(
        self,
        user: UserRef,
        chat: ChatRef,
        token: str | None,
        stored: StoredFile,
        caption: str | None = None,
    ) -> UserAction:
        """The user sends the file ``stored`` (a message of its kind, with its name and type)."""
        return self._user_message(
            user,
            chat,
            token,
            stored.kind,
            caption=caption,
            file_id=stored.file_id,
            file_name=stored.file_name,
            mime_type=stored.mime_type,
            media=self.state.media_for(stored),
        )

    async def send_text(
        self,
        user: UserRef,
        text: str,
        *,
        chat: ChatRef = None,
        token: str | None = None,
        entities: list[dict[str, Any]] | None = None,
        reply_to_message_id: int | None = None,
    ) -> UserAction:
        """The user sends ``text``; a leading ``/command`` gets a bot_command entity."""
        if not text:
            raise EmulatorError("a text message can't be empty")
        ents = list(entities or [])
        if entities is None and text.startswith("/"):
            end = 1
            while end < len(text) and text[end] in _COMMAND_PREFIX_CHARS + "@":
                end += 1
            if end > 1:
                ents.append({"type": "bot_command", "offset": 0, "length": utf16_len(text[:end])})
        return self._user_message(
            user,
            chat,
            token,
            "text",
            text=text,
            entities=ents,
            reply_to_message_id=reply_to_message_id,
        )

    async def send_contact(
        self,
        user: UserRef,
        phone_number: str,
        first_name: str | None = None,
        *,
        last_name: str | None = None,
        own: bool = True,
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        """The user shares a contact (their own by default: ``user_id`` is set)."""
        u = self._user(user)
        contact = telegram.Contact(
            phone_number=phone_number,
            first_name=first_name or u.first_name,
            last_name=last_name if last_name is not None else (u.last_name if own else None),
            user_id=u.id if own else None,
        )
        return self._user_message(
            u, chat, token, "contact", contact=contact.to_dict(), media={"contact": contact}
        )

    async def send_location(
        self,
        user: UserRef,
        latitude: float,
        longitude: float,
        live_period: int | None = None,
        *,
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        location = telegram.Location(
            longitude=longitude, latitude=latitude, live_period=live_period
        )
        return self._user_message(
            user, chat, token, "location", location=location.to_dict(), media={"location": location}
        )

    async def send_photo(
        self,
        user: UserRef,
        data: bytes,
        caption: str | None = None,
        *,
        mime_type: str = "image/jpeg",
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        """The user sends a picture; it is stored as three PhotoSize entries."""
        sizes = self.state.store_photo(data, mime_type)
        return self._user_file(user, chat, token, sizes[-1], caption)

    async def send_voice(
        self,
        user: UserRef,
        data: bytes,
        duration: int = 3,
        *,
        mime_type: str = "audio/ogg",
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        stored = self.state.store_file(data, "voice", mime_type=mime_type, duration=duration)
        return self._user_file(user, chat, token, stored)

    async def send_audio(
        self,
        user: UserRef,
        data: bytes,
        filename: str = "audio.mp3",
        duration: int = 30,
        *,
        mime_type: str = "audio/mpeg",
        caption: str | None = None,
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        """The user sends a music/audio file (not a voice message)."""
        stored = self.state.store_file(data, "audio", file_name=filename, mime_type=mime_type, duration=duration)
        return self._user_file(user, chat, token, stored, caption)

    async def send_video(
        self,
        user: UserRef,
        data: bytes,
        duration: int = 5,
        *,
        width: int = 640,
        height: int = 360,
        mime_type: str = "video/mp4",
        caption: str | None = None,
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        stored = self.state.store_file(data, "video", mime_type=mime_type, width=width, height=height,
                                       duration=duration)
        return self._user_file(user, chat, token, stored, caption)

    async def send_video_note(
        self,
        user: UserRef,
        data: bytes,
        duration: int = 5,
        *,
        length: int = 240,
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        """A round video message (no caption in Telegram)."""
        stored = self.state.store_file(data, "video_note", mime_type="video/mp4", width=length, height=length,
                                       duration=duration)
        return self._user_file(user, chat, token, stored)

    async def send_document(
        self,
        user: UserRef,
        data: bytes,
        filename: str,
        mime_type: str = "application/octet-stream",
        *,
        caption: str | None = None,
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        stored = self.state.store_file(data, "document", file_name=filename, mime_type=mime_type)
        return self._user_file(user, chat, token, stored, caption)

    async def press_button(
        self,
        user: UserRef,
        message_id: int,
        callback_data: str,
        *,
        chat: ChatRef = None,
        token: str | None = None,
        allow_missing: bool = False,
    ) -> UserAction:
        """The user presses an inline button of the bot's message ``message_id``.

        ``callback_data`` need not be on the message (tests may forge data).  A missing or
        deleted message raises :class:`EmulatorError` unless ``allow_missing`` (then the
        query carries an ``InaccessibleMessage``, as Telegram does for old messages).
        """
        u = self._user(user)
        target = self._chat_for(u, chat)
        bot = self.state.bot(token)
        msg = self.state.find_message(bot.token, target.id, message_id)
        if msg is not None and not msg.from_bot:
            raise EmulatorError(f"message {message_id} in chat {target.id} is not the bot's")
        ptb_message: telegram.MaybeInaccessibleMessage
        if msg is None or msg.deleted:
            if not allow_missing:
                raise EmulatorError(f"no message {message_id} in chat {target.id}")
            ptb_message = telegram.InaccessibleMessage(chat=target.to_ptb(), message_id=message_id)
        else:
            ptb_message = self.state.ptb_message(msg)
        query_id = str(next(self._callback_ids))
        query = telegram.CallbackQuery(
            id=query_id,
            from_user=u.to_ptb(),
            chat_instance=str(abs(hash((bot.token, target.id))) % 10**18),
            message=ptb_message,
            data=callback_data,
        )
        self.state.callbacks[query_id] = PendingCallback(
            bot.token, u.id, target.id, message_id, time.monotonic()
        )
        update_id, update, queued = self.state.enqueue(
            bot.token, "callback_query", lambda uid: telegram.Update(uid, callback_query=query)
        )
        return UserAction(
            update_id,
            update,
            target.id,
            message_id=message_id,
            callback_query_id=query_id,
            queued=queued,
        )

    async def edit_user_message(
        self,
        user: UserRef,
        message_id: int,
        text: str,
        *,
        chat: ChatRef = None,
        token: str | None = None,
    ) -> UserAction:
        """The user edits one of their text messages (an ``edited_message`` update)."""
        u = self._user(user)
        target = self._chat_for(u, chat)
        bot = self.state.bot(token)
        msg = self.state.find_message(bot.token, target.id, message_id)
        if msg is None or msg.from_bot or msg.sender_id != u.id or msg.kind != "text":
            raise EmulatorError(f"user {u.id} has no text message {message_id} in {target.id}")
        msg.text, msg.entities = text, []
        msg.edits += 1
        msg.edit_date = self.state.now()
        self.state.touch(msg)
        ptb = self.state.ptb_message(msg)
        update_id, update, queued = self.state.enqueue(
            bot.token, "edited_message", lambda uid: telegram.Update(uid, edited_message=ptb)
        )
        return UserAction(update_id, update, target.id, message_id=message_id, queued=queued)

    def _chat_member_update(self, user: EmuUser, token: str | None, *, blocked: bool) -> None:
        bot = self.state.bot(token)
        member = telegram.ChatMemberMember(bot.user.to_ptb())
        banned = telegram.ChatMemberBanned(bot.user.to_ptb(), until_date=epoch_to_datetime(0))
        old, new = (member, banned) if blocked else (banned, member)
        chat = self.state.chats[user.id].to_ptb()
        event = telegram.ChatMemberUpdated(
            chat, user.to_ptb(), epoch_to_datetime(self.state.now()), old, new
        )
        self.state.enqueue(
            bot.token, "my_chat_member", lambda uid: telegram.Update(uid, my_chat_member=event)
        )

    # --------------------------------------------------------------- reading

    def _conversation_messages(self, chat_id: int, token: str | None) -> list[SentMessage]:
        bot = self.state.bot(token)
        conv = self.state.conversations.get((bot.token, chat_id))
        return list(conv.messages.values()) if conv else []

    def messages(
        self, chat_id: int, *, token: str | None = None, include_deleted: bool = True
    ) -> list[SentMessage]:
        """The bot's messages in ``chat_id`` (current state, oldest first)."""
        return [
            m.snapshot()
            for m in self._conversation_messages(chat_id, token)
            if m.from_bot and (include_deleted or not m.deleted)
        ]

    def user_messages(self, chat_id: int, *, token: str | None = None) -> list[SentMessage]:
        """Messages users sent in ``chat_id``."""
        return [m.snapshot() for m in self._conversation_messages(chat_id, token) if not m.from_bot]

    def chat_history(self, chat_id: int, *, token: str | None = None) -> list[SentMessage]:
        """Both sides of the chat in message order."""
        return [m.snapshot() for m in self._conversation_messages(chat_id, token)]

    def message(self, chat_id: int, message_id: int, *, token: str | None = None) -> SentMessage:
        msg = self.state.find_message(self.state.bot(token).token, chat_id, message_id)
        if msg is None:
            raise EmulatorError(f"no message {message_id} in chat {chat_id}")
        return msg.snapshot()

    def last_message(self, chat_id: int, *, token: str | None = None) -> SentMessage | None:
        """The bot's newest non-deleted message in ``chat_id``."""
        visible = self.messages(chat_id, token=token, include_deleted=False)
        return visible[-1] if visible else None

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every state change).

        Returns the predicate's value; raises :class:`TimeoutError` after ``timeout``.
        """
        box: list[Any] = [None]

        def check() -> bool:
            box[0] = predicate()
            return bool(box[0])

        if not await self.state.changed.wait_for(check, timeout):
            raise TimeoutError(f"condition not met within {timeout}s")
        return box[0]

    async def wait_for_message(
        self,
        chat_id: int,
        predicate: Callable[[SentMessage], bool] | None = None,
        timeout: float = 5.0,
        after_message_id: int | None = None,
        *,
        token: str | None = None,
    ) -> SentMessage:
        """Wait for a bot message in ``chat_id`` and return a snapshot of it.

        Without ``after_message_id``: the first (oldest) non-deleted bot message created or
        edited after this call that matches ``predicate``.  With it: the first matching
        non-deleted bot message whose id is greater (already present or future) - use
        the ``message_id`` of a :class:`UserAction` to avoid races.
        """
        bot = self.state.bot(token)
        baseline = self.state.version

        def find() -> SentMessage | None:
            conv = self.state.conversations.get((bot.token, chat_id))
            if conv is None:
                return None
            for msg in conv.messages.values():
                if not msg.from_bot or msg.deleted:
                    continue
                if after_message_id is not None:
                    if msg.message_id <= after_message_id:
                        continue
                elif msg.version <= baseline:
                    continue
                if predicate is None or predicate(msg.snapshot()):
                    return msg
            return None

        try:
            found = await self.wait_for(find, timeout)
        except TimeoutError:
            recent = [
                (m.message_id, m.kind, m.content, m.edits)
                for m in self._conversation_messages(chat_id, token)[-5:]
            ]
            raise TimeoutError(
                f"no matching bot message in chat {chat_id} within {timeout}s; last: {recent}"
            ) from None
        return found.snapshot()

    @property
    def callback_answers(self) -> list[dict[str, Any]]:
        """answerCallbackQuery calls: callback_query_id, text, show_alert, url, ..."""
        return self.api.callback_answers

    def calls_to(self, method: str) -> list[CallRecord]:
        return [c for c in self.calls if c.method.lower() == method.lower()]

    def commands(
        self,
        scope: dict[str, Any] | str | None = None,
        language_code: str | None = None,
        *,
        token: str | None = None,
    ) -> list[dict[str, str]]:
        """Commands stored by setMyCommands for ``scope`` (dict, type name or default)."""
        bot = self.state.bot(token)
        if scope is None:
            key: tuple[str, int | None, int | None] = ("default", None, None)
        elif isinstance(scope, str):
            key = (scope, None, None)
        else:
            key = (scope.get("type", "default"), scope.get("chat_id"), scope.get("user_id"))
        return [dict(c) for c in bot.commands.get((key, language_code or ""), [])]

    def menu_button(
        self, chat_id: int | None = None, *, token: str | None = None
    ) -> dict[str, Any] | None:
        return self.state.bot(token).menu_buttons.get(chat_id)

    def file_bytes(self, file_id: str) -> bytes:
        stored = self.state.files.get(file_id)
        if stored is None:
            raise EmulatorError(f"unknown file_id {file_id!r}")
        return stored.data

    def pending_updates(self, token: str | None = None) -> list[dict[str, Any]]:
        """Updates not yet confirmed (getUpdates offset) or delivered (webhook)."""
        return [update for _, _, update in self.state.bot(token).pending]

    def long_polls_waiting(self, token: str | None = None) -> int:
        """Number of getUpdates requests currently waiting inside a long poll."""
        return self.state.bot(token).waiting_polls

    @property
    def webhook_deliveries(self) -> list[WebhookDelivery]:
        """Every webhook POST attempt (status or connection error), oldest first."""
        return self.webhooks.deliveries

    def webhook_url(self, token: str | None = None) -> str | None:
        hook = self.state.bot(token).webhook
        return hook.url if hook else None


# ---------------------------------------------------------------- helpers


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


@web.middleware
async def _cors_middleware(
    request: web.Request, handler: Callable[[web.Request], Any]
) -> web.StreamResponse:
    if not request.path.startswith("/_emu/"):
        return await handler(request)
    if request.method == "OPTIONS":
        response: web.StreamResponse = web.Response(status=204)
    else:
        response = await handler(request)
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    return response


def stop_event() -> asyncio.Event:
    """An event that SIGINT (Ctrl+C) or SIGTERM sets, where the event loop can catch signals."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve(args: argparse.Namespace) -> None:
    emu = BotAPIEmulator(host=args.host, port=args.port)
    for token in args.token or ["123456:TEST"]:
        emu.add_bot(token=token, username=args.username, first_name=args.first_name)
    await emu.start()
    print(
        f"Bot API emulator listening on {emu.base_url} (bots: {', '.join(emu.state.bots)})",
        flush=True,
    )
    stop = stop_event()
    try:
        await stop.wait()
    finally:
        await emu.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", action="append", help="bot token (repeatable)")
    parser.add_argument("--username", default="gridbot_test")
    parser.add_argument("--first-name", default="GridBot")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
