"""In-memory world of the Bot API emulator: bots, users, chats, messages, files, updates.

:class:`EmulatorState` is shared by the Bot API layer (``emulator_botapi``), the
test-side API and the HTTP control API (``emulator``).  All mutation is synchronous
(single event loop, no awaits inside), waiters use :class:`Signal`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import mimetypes
import secrets
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import telegram

from bot.sandbox.emulator_types import (
    ApiError,
    EmuChat,
    EmulatorError,
    EmuUser,
    SentMessage,
    StoredFile,
    epoch_to_datetime,
)

__all__ = [
    "ALL_UPDATE_TYPES",
    "DEFAULT_UPDATE_TYPES",
    "BotState",
    "Conversation",
    "EmulatorState",
    "Signal",
    "Webhook",
]

ALL_UPDATE_TYPES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "message_reaction",
        "message_reaction_count",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)
# What Telegram delivers when allowed_updates was never set (or set to []).
DEFAULT_UPDATE_TYPES = ALL_UPDATE_TYPES - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}


class Signal:
    """Edge-triggered notification: ``notify()`` is sync, waiters re-check a predicate."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float | None) -> bool:
        """Wait until ``predicate()`` is truthy; return False if ``timeout`` expires first."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if predicate():
                return True
            event = self._event
            if deadline is None:
                await event.wait()
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return bool(predicate())
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return bool(predicate())


@dataclass
class Webhook:
    url: str
    secret_token: str | None = None
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str | None = None


@dataclass
class Conversation:
    """Messages of one chat as seen by one bot (Telegram numbers them per chat)."""

    messages: dict[int, SentMessage] = field(default_factory=dict)
    next_message_id: int = 1
    version: int = 0


@dataclass
class BotState:
    token: str
    user: EmuUser
    signal: Signal
    pending: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    next_update_id: int = 100_001
    allowed_updates: frozenset[str] = DEFAULT_UPDATE_TYPES
    webhook: Webhook | None = None
    poll_generation: int = 0
    commands: dict[tuple[tuple[str, int | None, int | None], str], list[dict[str, str]]] = field(
        default_factory=dict
    )
    menu_buttons: dict[int | None, dict[str, Any]] = field(default_factory=dict)
    logged_out: bool = False
    waiting_polls: int = 0
    """getUpdates requests currently parked in a long poll."""


@dataclass
class PendingCallback:
    token: str
    user_id: int
    chat_id: int
    message_id: int
    created: float
    answered: bool = False


class EmulatorState:
    """All emulator data plus the operations that keep it consistent."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        self.clock: Callable[[], float] = clock or time.time
        self.bots: dict[str, BotState] = {}
        self.users: dict[int, EmuUser] = {}
        self.chats: dict[int, EmuChat] = {}
        self.unstarted: set[int] = set()
        self.blocked: set[int] = set()
        self.files: dict[str, StoredFile] = {}
        self.files_by_path: dict[str, StoredFile] = {}
        self.conversations: dict[tuple[str, int], Conversation] = {}
        self.callbacks: dict[str, PendingCallback] = {}
        self.changed = Signal()
        self.closing = False
        self.version = 0
        self.on_webhook_change: Callable[[BotState], None] = lambda bot: None
        self._user_ids = itertools.count(100_000_001)
        self._group_ids = itertools.count(1)
        self._file_seq = itertools.count(1)

    # ------------------------------------------------------------------ basics

    def now(self) -> int:
        return int(self.clock())

    def bump(self) -> int:
        """Advance the global change counter and wake every waiter."""
        self.version += 1
        self.changed.notify()
        return self.version

    def bot(self, token: str | None) -> BotState:
        if token is None:
            if not self.bots:
                raise EmulatorError("no bot registered; call add_bot() first")
            return next(iter(self.bots.values()))
        try:
            return self.bots[token]
        except KeyError:
            raise EmulatorError(f"unknown bot token {token!r}") from None

    def add_bot(self, token: str, username: str, first_name: str) -> BotState:
        prefix = token.split(":", 1)[0]
        if ":" not in token or not prefix.isdigit():
            raise ValueError("bot token must look like '<digits>:<secret>'")
        state = BotState(
            token=token,
            user=EmuUser(id=int(prefix), first_name=first_name, username=username, is_bot=True),
            signal=Signal(),
        )
        self.bots[token] = state
        return state

    def add_user(
        self,
        first_name: str,
        last_name: str | None,
        username: str | None,
        language_code: str | None,
        user_id: int | None,
        started: bool,
    ) -> EmuUser:
        uid = user_id if user_id is not None else next(self._user_ids)
        while user_id is None and uid in self.users:
            uid = next(self._user_ids)
        if uid <= 0:
            raise ValueError("user ids must be positive")
        user = EmuUser(uid, first_name, last_name, username, language_code)
        self.users[uid] = user
        self.chats[uid] = EmuChat(
            uid, "private", first_name=first_name, last_name=last_name, username=username
        )
        if not started:
            self.unstarted.add(uid)
        self.bump()
        return user

    def add_group(self, title: str, supergroup: bool) -> EmuChat:
        n = next(self._group_ids)
        chat_id = -(1_000_000_000_000 + n) if supergroup else -(400_000_000 + n)
        chat = EmuChat(chat_id, "supergroup" if supergroup else "group", title=title)
        self.chats[chat_id] = chat
        self.bump()
        return chat

    def chat_by_ref(self, ref: Any) -> EmuChat | None:
        """Resolve an int id, numeric string or ``@username`` to a known chat."""
        if isinstance(ref, bool):
            return None
        if isinstance(ref, int):
            return self.chats.get(ref)
        if isinstance(ref, str):
            ref = ref.strip()
            if ref.startswith("@"):
                name = ref[1:].lower()
                for chat in self.chats.values():
                    if chat.username and chat.username.lower() == name:
                        return chat
                return None
            try:
                return self.chats.get(int(ref))
            except ValueError:
                return None
        return None

    def sender(self, token: str, msg: SentMessage) -> EmuUser:
        if msg.from_bot:
            return self.bots[token].user
        return self.users[msg.sender_id]

    # --------------------------------------------------------------- messages

    def conversation(self, token: str, chat_id: int) -> Conversation:
        return self.conversations.setdefault((token, chat_id), Conversation())

    def add_message(
        self, token: str, chat: EmuChat, *, from_bot: bool, sender_id: int, kind: str, **fields: Any
    ) -> SentMessage:
        conv = self.conversation(token, chat.id)
        msg = SentMessage(
            message_id=conv.next_message_id,
            chat_id=chat.id,
            kind=kind,
            from_bot=from_bot,
            sender_id=sender_id,
            date=self.now(),
            token=token,
            **fields,
        )
        conv.next_message_id += 1
        conv.messages[msg.message_id] = msg
        self.touch(msg)
        return msg

    def touch(self, msg: SentMessage) -> None:
        """Record a change of ``msg`` (new version for the chat and for waiters)."""
        msg.version = self.bump()
        self.conversation(msg.token, msg.chat_id).version = msg.version

    def find_message(self, token: str, chat_id: int, message_id: int) -> SentMessage | None:
        conv = self.conversations.get((token, chat_id))
        return None if conv is None else conv.messages.get(message_id)

    def ptb_message(self, msg: SentMessage, *, with_reply: bool = True) -> telegram.Message:
        """Build the ``telegram.Message`` for a stored message (current state)."""
        chat = self.chats[msg.chat_id]
        markup = None
        if msg.reply_markup and msg.reply_markup.get("inline_keyboard"):
            markup = telegram.InlineKeyboardMarkup.de_json(msg.reply_markup, None)
        entities = [telegram.MessageEntity.de_json(e, None) for e in msg.entities]
        reply_to = None
        if with_reply and msg.reply_to_message_id is not None:
            original = self.find_message(msg.token, msg.chat_id, msg.reply_to_message_id)
            if original is not None and not original.deleted:
                reply_to = self.ptb_message(original, with_reply=False)
        return telegram.Message(
            message_id=msg.message_id,
            date=epoch_to_datetime(msg.date),
            chat=chat.to_ptb(),
            from_user=self.sender(msg.token, msg).to_ptb(),
            text=msg.text if msg.kind == "text" else None,
            entities=entities if msg.kind == "text" and entities else None,
            caption=msg.caption if msg.kind != "text" else None,
            caption_entities=entities if msg.kind != "text" and entities else None,
            edit_date=epoch_to_datetime(msg.edit_date) if msg.edit_date else None,
            reply_markup=markup,
            reply_to_message=reply_to,
            **msg.media,
        )

    # ------------------------------------------------------------------ updates

    def enqueue(
        self, token: str, kind: str, build: Callable[[int], telegram.Update]
    ) -> tuple[int, dict[str, Any], bool]:
        """Create an update of ``kind`` for ``token``; queue it unless filtered out."""
        bot = self.bot(token)
        update_id = bot.next_update_id
        bot.next_update_id += 1
        update = json.loads(build(update_id).to_json())  # plain JSON types, no enums
        queued = kind in bot.allowed_updates
        if queued:
            bot.pending.append((update_id, kind, update))
            bot.signal.notify()
        self.bump()
        return update_id, update, queued

    def drop_pending(self, bot: BotState) -> None:
        bot.pending.clear()

    # -------------------------------------------------------------------- files

    def _new_ids(self, kind: str) -> tuple[str, str]:
        n = next(self._file_seq)
        tag = {"photo": "AgAC", "document": "BQAC", "voice": "AwAC"}.get(kind, "CAAC")
        file_id = f"{tag}{secrets.token_urlsafe(24)}_{n}"
        unique = "AQAD" + hashlib.sha1(file_id.encode()).hexdigest()[:12]
        return file_id, unique

    def store_file(
        self,
        data: bytes,
        kind: str,
        *,
        file_name: str | None = None,
        mime_type: str | None = None,
        width: int | None = None,
        height: int | None = None,
        duration: int | None = None,
    ) -> StoredFile:
        file_id, unique = self._new_ids(kind)
        folder = {"photo": "photos", "voice": "voice", "document": "documents", "audio": "music",
                  "video": "videos", "video_note": "video_notes"}.get(kind, kind)
        ext = ""
        if file_name and "." in file_name:
            ext = file_name.rsplit(".", 1)[1]
        elif mime_type:
            ext = (mimetypes.guess_extension(mime_type) or "").lstrip(".")
        if not ext:
            ext = {"photo": "jpg", "voice": "oga", "audio": "mp3", "video": "mp4", "video_note": "mp4"}.get(kind, "bin")
        path = f"{folder}/file_{len(self.files)}.{ext}"
        stored = StoredFile(
            file_id=file_id,
            file_unique_id=unique,
            data=data,
            file_path=path,
            kind=kind,
            file_name=file_name,
            mime_type=mime_type,
            width=width,
            height=height,
            duration=duration,
        )
        self.files[file_id] = stored
        self.files_by_path[path] = stored
        return stored

    def store_photo(self, data: bytes, mime_type: str | None = None) -> list[StoredFile]:
        """Store a picture as three sizes (all sizes share the uploaded bytes)."""
        width, height = image_size(data) or (1280, 960)
        sizes: list[StoredFile] = []
        for scale in (8, 2, 1):
            w, h = max(1, width // scale), max(1, height // scale)
            sizes.append(
                self.store_file(
                    data, "photo", mime_type=mime_type or "image/jpeg", width=w, height=h
                )
            )
        ids = tuple(s.file_id for s in sizes)
        for stored in sizes:
            stored.siblings = ids
        return sizes

    def photo_sizes(self, stored: StoredFile) -> tuple[telegram.PhotoSize, ...]:
        members = [self.files[i] for i in stored.siblings] if stored.siblings else [stored]
        return tuple(
            telegram.PhotoSize(
                file_id=f.file_id,
                file_unique_id=f.file_unique_id,
                width=f.width or 0,
                height=f.height or 0,
                file_size=f.size,
            )
            for f in members
        )

    def media_for(self, stored: StoredFile) -> dict[str, Any]:
        """PTB Message fields describing ``stored``."""
        if stored.kind == "photo":
            return {"photo": self.photo_sizes(stored)}
        common = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size}
        duration = stored.duration or 0
        named = {"file_name": stored.file_name, "mime_type": stored.mime_type}
        if stored.kind == "voice":
            media: Any = telegram.Voice(**common, duration=duration, mime_type=stored.mime_type)
        elif stored.kind == "audio":
            media = telegram.Audio(**common, **named, duration=duration)
        elif stored.kind == "video":
            media = telegram.Video(**common, **named, duration=duration, width=stored.width or 0,
                                   height=stored.height or 0)
        elif stored.kind == "video_note":
            media = telegram.VideoNote(**common, duration=duration, length=stored.width or 0)
        else:
            return {"document": telegram.Document(**common, **named)}
        return {stored.kind: media}

    # ----------------------------------------------------------------- webhook

    def set_webhook(self, bot: BotState, webhook: Webhook | None) -> None:
        bot.webhook = webhook
        bot.poll_generation += 1
        bot.signal.notify()
        self.on_webhook_change(bot)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width/height of a PNG, GIF or JPEG image, or ``None`` if unknown."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        width, height = struct.unpack("<HH", data[6:10])
        return int(width), int(height)
    if data[:2] == b"\xff\xd8":
        i = 2
        while i + 9 < len(data):
            if data[i] != 0xFF:
                i += 1
                continue
            marker = data[i + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            length = struct.unpack(">H", data[i + 2 : i + 4])[0]
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                height, width = struct.unpack(">HH", data[i + 5 : i + 9])
                return int(width), int(height)
            i += 2 + length
    return None


def require_known_chat(state: EmulatorState, ref: Any) -> EmuChat:
    chat = state.chat_by_ref(ref)
    if chat is None:
        raise ApiError.bad_request("chat not found")
    return chat
