"""How the sender talks to the Bot API: one pooled HTTP session, and every
answer or failure classified as an outcome (sent, retry, 429, 403, failed, unknown)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from aiogram import Bot

from bot.config import Settings
from models import OutboxKind


@dataclass(slots=True)
class ClaimedRow:
    id: int
    chat_id: int
    user_id: int | None
    kind: OutboxKind
    payload: dict[str, Any]
    attempts: int
    resends: int
    broadcast_id: int | None


class Outcome:
    sent = "sent"
    retry = "retry"  # 5xx or a network error before the request got through
    rate_limited = "rate_limited"  # 429
    blocked = "blocked"  # 403
    failed = "failed"  # permanent (400...)
    unknown = "unknown"  # timeout or connection lost mid-call: maybe delivered


class SendError(Exception):
    def __init__(self, outcome: str, error: str, retry_after: float | None = None) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error[:2000]
        self.retry_after = retry_after


class Transport(Protocol):
    async def send(self, row: ClaimedRow) -> int:
        """Deliver one row; return Telegram's message id or raise :class:`SendError`."""
        ...


def classify_response(status: int, body: dict[str, Any] | None) -> SendError:
    """Map a Bot API error answer to what the engine does about it."""
    body = body or {}
    code = int(body.get("error_code") or status)
    text = f"{code}: {body.get('description') or 'no description'}"
    retry_after = (body.get("parameters") or {}).get("retry_after")
    if code == 429 or retry_after is not None:
        return SendError(Outcome.rate_limited, text, float(retry_after or 1))
    if code == 403:
        return SendError(Outcome.blocked, text)
    if code == 400:
        return SendError(Outcome.failed, text)  # bad payload or chat not found: retrying will not help
    # 5xx, and 401/404 (a token or deployment problem, not the message's fault).
    return SendError(Outcome.retry, text)


def classify_exception(exc: BaseException) -> SendError:
    """Network errors: before the request reached the server it is safe to retry;
    after (a timeout, a dropped connection) the message may have been delivered."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ClientConnectorError):
        return SendError(Outcome.retry, text)  # never reached the server
    if isinstance(exc, (TimeoutError, aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError,
                        aiohttp.ClientOSError)):
        return SendError(Outcome.unknown, text)
    if isinstance(exc, aiohttp.ClientError):
        return SendError(Outcome.unknown, text)
    return SendError(Outcome.retry, text)


# A payload's file (bot.services.notify) and the Bot API method that sends it.
MEDIA_METHODS = {"photo": "sendPhoto", "document": "sendDocument", "voice": "sendVoice", "audio": "sendAudio",
                 "video": "sendVideo", "video_note": "sendVideoNote", "location": "sendLocation"}


class BotApiTransport:
    """Posts rows straight to the Bot API (``sendMessage``, ``sendPhoto``,
    ``sendDocument``) over one pooled HTTP session.

    The chat side uses aiogram; this hot path does not, because aiogram builds
    and validates pydantic models for every request and answer (about a
    millisecond of CPU per message, measured), which alone caps one process
    well below the 1,000 msg/s of paid broadcasts.  Same server, token and
    defaults as the bot: HTML, link previews off.
    """

    def __init__(self, api_base: str, token: str, *, timeout: float = 20.0, paid_broadcast: bool = False,
                 connections: int = 200, parse_mode: str | None = "HTML") -> None:
        self.api_base = api_base.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.paid = paid_broadcast
        self.connections = connections
        self.parse_mode = parse_mode
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def for_bot(cls, bot: Bot, settings: Settings) -> BotApiTransport:
        return cls(settings.telegram_api_url, bot.token, timeout=settings.delivery_send_timeout,
                   paid_broadcast=settings.delivery_paid_broadcast, connections=settings.delivery_concurrency)

    def _url(self, method: str) -> str:
        return f"{self.api_base}/bot{self.token}/{method}"

    def request(self, row: ClaimedRow) -> tuple[str, dict[str, Any]]:
        p = row.payload
        body: dict[str, Any] = {"chat_id": row.chat_id}
        parse_mode = p.get("parse_mode", self.parse_mode)
        media = next((key for key in MEDIA_METHODS if p.get(key)), None)
        if media == "location":  # no caption: bot.services.notify queues the text apart
            method = "sendLocation"
            body.update(latitude=p["location"]["latitude"], longitude=p["location"]["longitude"])
        elif media is not None:  # a relayed file goes again by its file id
            method = MEDIA_METHODS[media]
            body[media] = p[media]
            if p.get("text") and media != "video_note":
                body["caption"] = p["text"]
                if parse_mode:
                    body["parse_mode"] = parse_mode
        else:
            method = "sendMessage"
            body["text"] = p.get("text", "")
            if parse_mode:
                body["parse_mode"] = parse_mode
            body["link_preview_options"] = {"is_disabled": True}
        if p.get("buttons"):
            body["reply_markup"] = {"inline_keyboard": p["buttons"]}
        if self.paid:
            body["allow_paid_broadcast"] = True
        return method, body

    async def send(self, row: ClaimedRow) -> int:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.connections), timeout=self.timeout)
        method, body = self.request(row)
        try:
            async with self._session.post(self._url(method), json=body) as resp:
                status = resp.status
                try:
                    answer = await resp.json(content_type=None)
                except (ValueError, aiohttp.ContentTypeError):
                    answer = None
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is classified
            raise classify_exception(exc) from exc
        if isinstance(answer, dict) and answer.get("ok") and isinstance(answer.get("result"), dict):
            return int(answer["result"]["message_id"])
        raise classify_response(status, answer if isinstance(answer, dict) else None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
