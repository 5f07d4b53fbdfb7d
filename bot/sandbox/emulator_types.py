"""Data records shared by the Bot API emulator modules.

Everything here is plain data: users, chats, stored files, message records
(:class:`SentMessage`), call/send logs and the :class:`ApiError` that the Bot API layer
turns into Telegram's ``{"ok": false, "error_code": ..., "description": ...}`` answer.
Telegram objects on the wire are always built with python-telegram-bot (``telegram``)
classes; the ``to_ptb`` helpers below produce them.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import telegram

__all__ = [
    "ApiError",
    "CallRecord",
    "EmuChat",
    "EmuUser",
    "EmulatorError",
    "RateLimitHit",
    "SendLogEntry",
    "SentMessage",
    "StoredFile",
    "UserAction",
    "WebhookDelivery",
    "epoch_to_datetime",
]


def epoch_to_datetime(seconds: float) -> dt.datetime:
    """Convert epoch seconds to an aware UTC datetime (what PTB objects expect)."""
    return dt.datetime.fromtimestamp(int(seconds), tz=dt.UTC)


class EmulatorError(LookupError):
    """Raised by the test-side API for impossible actions (unknown user, message, bot...)."""


class ApiError(Exception):
    """A Bot API error answer; ``payload()`` is exactly what Telegram would send."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    @classmethod
    def bad_request(cls, reason: str) -> ApiError:
        return cls(400, f"Bad Request: {reason}")

    @classmethod
    def forbidden(cls, reason: str) -> ApiError:
        return cls(403, f"Forbidden: {reason}")

    @classmethod
    def too_many_requests(cls, retry_after: int) -> ApiError:
        retry_after = max(1, int(retry_after))
        return cls(429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 502) -> ApiError:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Server Error"
        return cls(status, phrase)

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.status,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


@dataclass
class EmuUser:
    """A Telegram user (or bot account).  A user's private chat id equals ``id``."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_ptb(self) -> telegram.User:
        return telegram.User(
            id=self.id,
            first_name=self.first_name,
            is_bot=self.is_bot,
            last_name=self.last_name,
            username=self.username,
            language_code=None if self.is_bot else self.language_code,
        )

    def to_dict(self) -> dict[str, Any]:
        return self.to_ptb().to_dict()


@dataclass
class EmuChat:
    """A chat: ``private`` (id == user id), ``group`` or ``supergroup`` (negative ids)."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    username: str | None = None

    def to_ptb(self) -> telegram.Chat:
        return telegram.Chat(
            id=self.id,
            type=self.type,
            title=self.title,
            first_name=self.first_name,
            last_name=self.last_name,
            username=self.username,
        )

    def to_dict(self) -> dict[str, Any]:
        return self.to_ptb().to_dict()

    @property
    def is_group(self) -> bool:
        return self.type in ("group", "supergroup")


@dataclass
class StoredFile:
    """A file kept in memory; ``file_path`` is what getFile returns."""

    file_id: str
    file_unique_id: str
    data: bytes
    file_path: str
    kind: str
    file_name: str | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    duration: int | None = None
    siblings: tuple[str, ...] = ()
    """For photos: the file_ids of all sizes of the same picture (smallest first)."""

    @property
    def size(self) -> int:
        return len(self.data)

    def to_ptb_file(self) -> telegram.File:
        return telegram.File(
            file_id=self.file_id,
            file_unique_id=self.file_unique_id,
            file_size=self.size,
            file_path=self.file_path,
        )


@dataclass
class SentMessage:
    """A message in a chat as it currently stands (edits applied, ``deleted`` flagged).

    Both the bot's messages and the users' messages use this record; ``from_bot`` tells
    them apart.  ``entities`` holds the entities of ``text`` or, for media, of
    ``caption``.  ``reply_markup`` is the markup dict the bot sent (inline keyboards as
    well as reply keyboards / removals / force replies).
    """

    message_id: int
    chat_id: int
    kind: str
    from_bot: bool
    sender_id: int
    date: int
    text: str | None = None
    caption: str | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    reply_markup: dict[str, Any] | None = None
    edits: int = 0
    edit_date: int | None = None
    deleted: bool = False
    file_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    location: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    reply_to_message_id: int | None = None
    version: int = 0
    """Emulator-wide change counter value of the last change (creation, edit, delete)."""
    token: str = ""
    media: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    """PTB media objects keyed by Message field name (``photo``, ``voice``, ...)."""

    @property
    def inline_buttons(self) -> list[list[tuple[str, str | None]]]:
        """Rows of ``(text, callback_data or url or None)`` of the inline keyboard."""
        rows = (self.reply_markup or {}).get("inline_keyboard") or []
        result: list[list[tuple[str, str | None]]] = []
        for row in rows:
            result.append([(b.get("text", ""), b.get("callback_data", b.get("url"))) for b in row])
        return result

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Rows of button texts of a reply keyboard, or ``None`` if there is none."""
        rows = (self.reply_markup or {}).get("keyboard")
        if rows is None:
            return None
        return [[b if isinstance(b, str) else b.get("text", "") for b in row] for row in rows]

    @property
    def content(self) -> str | None:
        """``text`` for text messages, otherwise ``caption``."""
        return self.text if self.kind == "text" else self.caption

    def snapshot(self) -> SentMessage:
        """An independent copy (the emulator keeps mutating its own record)."""
        clone = copy.copy(self)
        clone.entities = copy.deepcopy(self.entities)
        clone.reply_markup = copy.deepcopy(self.reply_markup)
        clone.location = copy.deepcopy(self.location)
        clone.contact = copy.deepcopy(self.contact)
        clone.media = dict(self.media)
        return clone

    def to_json(self, file_url: str = "/_emu/files/{file_id}") -> dict[str, Any]:
        """JSON view used by the HTTP control API."""
        return {
            "message_id": self.message_id,
            "chat_id": self.chat_id,
            "from_bot": self.from_bot,
            "sender_id": self.sender_id,
            "kind": self.kind,
            "date": self.date,
            "text": self.text,
            "caption": self.caption,
            "entities": self.entities,
            "reply_markup": self.reply_markup,
            "inline_buttons": [[list(b) for b in row] for row in self.inline_buttons],
            "reply_keyboard": self.reply_keyboard,
            "edits": self.edits,
            "edit_date": self.edit_date,
            "deleted": self.deleted,
            "file_id": self.file_id,
            "file_url": file_url.format(file_id=self.file_id) if self.file_id else None,
            "file_name": self.file_name,
            "mime_type": self.mime_type,
            "location": self.location,
            "contact": self.contact,
            "reply_to_message_id": self.reply_to_message_id,
            "version": self.version,
        }


@dataclass
class UserAction:
    """What a test-side action produced."""

    update_id: int
    update: dict[str, Any]
    chat_id: int
    message_id: int | None = None
    callback_query_id: str | None = None
    queued: bool = True
    """False when the bot's ``allowed_updates`` filtered the update out."""


@dataclass
class CallRecord:
    """One Bot API request as the emulator handled it."""

    method: str
    params: dict[str, Any]
    status: int
    time: float
    chat_id: int | None
    token: str
    description: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class SendLogEntry:
    """An accepted send (monotonic time) - used to measure delivered rates."""

    time: float
    chat_id: int
    method: str
    token: str


@dataclass
class RateLimitHit:
    """A send refused with 429 by the configured rate limits."""

    time: float
    chat_id: int | None
    method: str
    scope: str
    retry_after: int


@dataclass
class WebhookDelivery:
    """One webhook POST attempt."""

    time: float
    token: str
    update_id: int
    url: str
    status: int | None
    error: str | None = None
