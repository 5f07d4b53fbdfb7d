"""Bot API method implementations for the emulator.

:class:`BotApi` turns a method name plus parameters into a result or an
:class:`~bot.sandbox.emulator_types.ApiError`.  Parameters come from any encoding the
real API accepts (query string, JSON, urlencoded, multipart) and are wrapped in
:class:`~bot.sandbox.emulator_params.Params`.  Incoming objects are parsed with
python-telegram-bot classes after Telegram-like validation; results are PTB objects
serialised with ``to_dict()``.
"""

from __future__ import annotations

import mimetypes
import re
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import telegram

from bot.sandbox.emulator_params import Params, UploadedFile, parse_reply_markup
from bot.sandbox.emulator_state import (
    ALL_UPDATE_TYPES,
    DEFAULT_UPDATE_TYPES,
    BotState,
    EmulatorState,
    Webhook,
    require_known_chat,
)
from bot.sandbox.emulator_text import EntityParseError, format_text
from bot.sandbox.emulator_types import (
    ApiError,
    EmuChat,
    SentMessage,
    StoredFile,
    epoch_to_datetime,
)

__all__ = ["CHAT_METHODS", "SEND_METHODS", "BotApi"]

TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
SEND_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendLocation", "sendContact"}
)
# Methods addressed to a chat: refused with 403 while the user blocks the bot.
CHAT_METHODS = SEND_METHODS | {
    "sendChatAction",
    "editMessageText",
    "editMessageCaption",
    "editMessageReplyMarkup",
}
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
SCOPE_TYPES = frozenset(
    {
        "default",
        "all_private_chats",
        "all_group_chats",
        "all_chat_administrators",
        "chat",
        "chat_administrators",
        "chat_member",
    }
)
_COMMAND_RE = re.compile(r"^[a-z0-9_]{1,32}$")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


# ------------------------------------------------------------------------ API

Handler = Callable[[BotState, Params], Any]


class BotApi:
    """The Bot API methods.  ``methods`` maps lower-case names to (canonical, handler)."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.callback_answers: list[dict[str, Any]] = []
        table: dict[str, Handler] = {
            "getMe": self.get_me,
            "getUpdates": self.get_updates,
            "setWebhook": self.set_webhook,
            "deleteWebhook": self.delete_webhook,
            "getWebhookInfo": self.get_webhook_info,
            "sendMessage": self.send_message,
            "sendPhoto": partial(self._send_media, kind="photo"),
            "sendDocument": partial(self._send_media, kind="document"),
            "sendVoice": partial(self._send_media, kind="voice"),
            "sendAudio": partial(self._send_media, kind="audio"),
            "sendVideo": partial(self._send_media, kind="video"),
            "sendVideoNote": partial(self._send_media, kind="video_note"),
            "sendLocation": self.send_location,
            "sendContact": self.send_contact,
            "sendChatAction": self.send_chat_action,
            "editMessageText": self.edit_message_text,
            "editMessageCaption": self.edit_message_caption,
            "editMessageReplyMarkup": self.edit_message_reply_markup,
            "deleteMessage": self.delete_message,
            "answerCallbackQuery": self.answer_callback_query,
            "getFile": self.get_file,
            "setMyCommands": self.set_my_commands,
            "getMyCommands": self.get_my_commands,
            "deleteMyCommands": self.delete_my_commands,
            "setChatMenuButton": self.set_chat_menu_button,
            "getChatMenuButton": self.get_chat_menu_button,
            "getChat": self.get_chat,
            "close": self.close,
            "logOut": self.log_out,
        }
        self.methods: dict[str, tuple[str, Handler]] = {
            name.lower(): (name, handler) for name, handler in table.items()
        }

    def resolve(self, method: str) -> tuple[str, Handler] | None:
        return self.methods.get(method.lower())

    # ------------------------------------------------------------- helpers

    def _named_chat(self, p: Params) -> EmuChat:
        if not p.has("chat_id"):
            raise ApiError.bad_request("chat_id is empty")
        return require_known_chat(self.state, p.chat_ref())

    def _menu_chat_id(self, p: Params) -> int | None:
        """The chat a menu button is set for; None: the bot's default button."""
        return require_known_chat(self.state, p.chat_ref()).id if p.has("chat_id") else None

    def target_chat(self, bot: BotState, p: Params) -> EmuChat:
        chat = self._named_chat(p)
        if chat.type == "private" and chat.id in self.state.unstarted:
            raise ApiError.forbidden("bot can't initiate conversation with a user")
        return chat

    def _formatted(
        self, p: Params, text_field: str, entities_field: str
    ) -> tuple[str | None, list[dict[str, Any]]]:
        text = p.str(text_field)
        if text is None:
            return None, []
        entities = p.json(entities_field, error="can't parse entities JSON object")
        try:
            return format_text(text, p.str("parse_mode"), entities)
        except EntityParseError as exc:
            raise ApiError.bad_request(f"can't parse entities: {exc}") from None
        except ValueError:
            raise ApiError.bad_request("unsupported parse_mode") from None

    def _text(self, p: Params) -> tuple[str, list[dict[str, Any]]]:
        text, entities = self._formatted(p, "text", "entities")
        if not text:
            raise ApiError.bad_request("message text is empty")
        if len(text) > TEXT_LIMIT:
            raise ApiError.bad_request("message is too long")
        return text, entities

    def _caption(self, p: Params) -> tuple[str | None, list[dict[str, Any]]]:
        caption, entities = self._formatted(p, "caption", "caption_entities")
        if caption is not None and len(caption) > CAPTION_LIMIT:
            raise ApiError.bad_request("message caption is too long")
        return caption or None, entities

    def _reply_to(self, bot: BotState, chat: EmuChat, p: Params) -> int | None:
        params = p.json("reply_parameters", error="can't parse reply parameters JSON object")
        allow = p.bool("allow_sending_without_reply")
        if isinstance(params, dict):
            message_id = params.get("message_id")
            allow = bool(params.get("allow_sending_without_reply", allow))
        else:
            message_id = p.int("reply_to_message_id")
        if message_id is None:
            return None
        target = self.state.find_message(bot.token, chat.id, int(message_id))
        if target is None or target.deleted:
            if allow:
                return None
            raise ApiError.bad_request("message to be replied not found")
        return int(message_id)

    def _send(
        self, bot: BotState, p: Params, chat: EmuChat, kind: str, **fields: Any
    ) -> dict[str, Any]:
        markup = parse_reply_markup(p.raw("reply_markup"))
        reply_to = self._reply_to(bot, chat, p)
        msg = self.state.add_message(
            bot.token,
            chat,
            from_bot=True,
            sender_id=bot.user.id,
            kind=kind,
            reply_markup=markup,
            reply_to_message_id=reply_to,
            **fields,
        )
        return self.state.ptb_message(msg).to_dict()

    def _input_file(self, p: Params, name: str, kind: str) -> StoredFile | UploadedFile:
        value = p.raw(name)
        if value is None:
            raise ApiError.bad_request(f"there is no {name} in the request")
        if isinstance(value, str) and value.startswith("attach://"):
            value = p.values.get(value[len("attach://") :])
            if not isinstance(value, UploadedFile):
                raise ApiError.bad_request(f"can't find attached file for {name}")
        if isinstance(value, UploadedFile):
            if not value.data:
                raise ApiError.bad_request("file must be non-empty")
            return value
        if not isinstance(value, str):
            raise ApiError.bad_request(f"wrong type of {name}")
        if value.startswith(("http://", "https://")):
            raise ApiError.bad_request("failed to get HTTP URL content")
        stored = self.state.files.get(value)
        if stored is None:
            raise ApiError.bad_request("wrong file identifier/HTTP URL specified")
        if stored.kind != kind:
            raise ApiError.bad_request(
                f"can't use file of type {stored.kind.title()} as {kind.title()}"
            )
        return stored

    def _sent_message(self, bot: BotState, p: Params, missing: str) -> SentMessage:
        """The message ``chat_id`` and ``message_id`` name; the error ``missing`` if it is gone."""
        chat = self._named_chat(p)
        message_id = p.int("message_id", required="message identifier is not specified")
        assert message_id is not None
        msg = self.state.find_message(bot.token, chat.id, message_id)
        if msg is None or msg.deleted:
            raise ApiError.bad_request(missing)
        return msg

    def _editable(self, bot: BotState, p: Params, missing: str) -> SentMessage:
        if p.has("inline_message_id"):
            raise ApiError.bad_request("inline messages are not supported by the emulator")
        msg = self._sent_message(bot, p, missing)
        if not msg.from_bot:
            raise ApiError.bad_request("message can't be edited")
        return msg

    def _apply_edit(self, msg: SentMessage, p: Params, **changes: Any) -> dict[str, Any]:
        """Edit ``msg``: ``changes`` and the request's inline keyboard; refused if all is the same."""
        markup = parse_reply_markup(p.raw("reply_markup"), inline_only=True)
        if markup == _inline(msg) and all(getattr(msg, k) == v for k, v in changes.items()):
            raise ApiError.bad_request(NOT_MODIFIED)
        if markup is not None or _inline(msg) is not None:
            changes["reply_markup"] = markup  # edits never touch a reply keyboard
        for key, value in changes.items():
            setattr(msg, key, value)
        msg.edits += 1
        msg.edit_date = self.state.now()
        self.state.touch(msg)
        return self.state.ptb_message(msg).to_dict()

    # ------------------------------------------------------------- methods

    def get_me(self, bot: BotState, p: Params) -> Any:
        user = bot.user.to_ptb()
        data = user.to_dict()
        data.update(
            can_join_groups=True, can_read_all_group_messages=False, supports_inline_queries=False
        )
        return data

    async def get_updates(self, bot: BotState, p: Params) -> Any:
        if bot.webhook is not None:
            raise ApiError(409, WEBHOOK_CONFLICT)
        offset = p.int("offset", default=0) or 0
        limit = min(max(p.int("limit", default=100) or 100, 1), 100)
        timeout = min(max(p.int("timeout", default=0) or 0, 0), 50)
        allowed = p.json("allowed_updates")
        if allowed is not None:
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise ApiError.bad_request("can't parse allowed updates JSON object")
            chosen = frozenset(allowed) & ALL_UPDATE_TYPES
            bot.allowed_updates = chosen or DEFAULT_UPDATE_TYPES
        if offset > 0:
            bot.pending[:] = [item for item in bot.pending if item[0] >= offset]
        elif offset < 0:
            bot.pending[:] = bot.pending[offset:]
        bot.poll_generation += 1
        generation = bot.poll_generation
        bot.signal.notify()  # an older long poll must give up (409 below)
        if not bot.pending and timeout > 0:
            bot.waiting_polls += 1
            self.state.bump()
            try:
                await bot.signal.wait_for(
                    lambda: (
                        bool(bot.pending) or bot.poll_generation != generation or self.state.closing
                    ),
                    timeout,
                )
            finally:
                bot.waiting_polls -= 1
                self.state.bump()
            if bot.webhook is not None:
                raise ApiError(409, WEBHOOK_CONFLICT)
            if bot.poll_generation != generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
        return [update for _, _, update in bot.pending[:limit]]

    def set_webhook(self, bot: BotState, p: Params) -> Any:
        url = (p.str("url") or "").strip()
        if p.bool("drop_pending_updates"):
            self.state.drop_pending(bot)
        if not url:
            self.state.set_webhook(bot, None)
            return True
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ApiError.bad_request("bad webhook: invalid webhook URL specified")
        secret = p.str("secret_token")
        if secret is not None and not _SECRET_RE.match(secret):
            raise ApiError.bad_request("secret token contains unallowed characters")
        max_connections = p.int("max_connections", default=40) or 40
        if not 1 <= max_connections <= 100:
            raise ApiError.bad_request("bad webhook: max_connections must be between 1 and 100")
        allowed = p.json("allowed_updates")
        if isinstance(allowed, list):
            bot.allowed_updates = (frozenset(allowed) & ALL_UPDATE_TYPES) or DEFAULT_UPDATE_TYPES
        self.state.set_webhook(
            bot, Webhook(url=url, secret_token=secret, max_connections=max_connections)
        )
        return True

    def delete_webhook(self, bot: BotState, p: Params) -> Any:
        if p.bool("drop_pending_updates"):
            self.state.drop_pending(bot)
        if bot.webhook is not None:
            self.state.set_webhook(bot, None)
        return True

    def get_webhook_info(self, bot: BotState, p: Params) -> Any:
        hook = bot.webhook
        info = telegram.WebhookInfo(
            url=hook.url if hook else "",
            has_custom_certificate=False,
            pending_update_count=len(bot.pending),
            last_error_date=epoch_to_datetime(hook.last_error_date)
            if hook and hook.last_error_date
            else None,
            last_error_message=hook.last_error_message if hook else None,
            max_connections=hook.max_connections if hook else None,
            allowed_updates=sorted(bot.allowed_updates) if hook else None,
        )
        return info.to_dict()

    def send_message(self, bot: BotState, p: Params) -> Any:
        chat = self.target_chat(bot, p)
        text, entities = self._text(p)
        return self._send(bot, p, chat, "text", text=text, entities=entities)

    def _send_media(self, bot: BotState, p: Params, kind: str) -> Any:
        """sendPhoto, sendDocument, ...: the file stands in the field named after its kind."""
        chat = self.target_chat(bot, p)
        source = self._input_file(p, kind, kind)
        # A video note has no caption in the Bot API (a round video on its own).
        caption, entities = self._caption(p) if kind != "video_note" else (None, [])
        if isinstance(source, UploadedFile):
            if kind == "photo":
                stored = self.state.store_photo(source.data, source.content_type)[-1]
            else:
                mime = source.content_type
                if not mime or mime == "application/octet-stream":
                    mime = _DEFAULT_MIME.get(kind) or _guess_mime(source.filename)
                length = p.int("length", default=240) if kind == "video_note" else None
                stored = self.state.store_file(
                    source.data,
                    kind,
                    file_name=source.filename if kind in ("document", "audio", "video") else None,
                    mime_type=mime,
                    width=p.int("width", default=0) if kind == "video" else length,
                    height=p.int("height", default=0) if kind == "video" else length,
                    duration=p.int("duration", default=0) if kind != "document" else None,
                )
        else:
            stored = source
        return self._send(
            bot,
            p,
            chat,
            kind,
            caption=caption,
            entities=entities,
            file_id=stored.file_id,
            file_name=stored.file_name,
            mime_type=stored.mime_type,
            media=self.state.media_for(stored),
        )

    def send_location(self, bot: BotState, p: Params) -> Any:
        chat = self.target_chat(bot, p)
        lat = p.float("latitude", required="latitude is empty")
        lon = p.float("longitude", required="longitude is empty")
        assert lat is not None and lon is not None
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ApiError.bad_request("wrong latitude or longitude specified")
        live = p.int("live_period")
        if live is not None and not (60 <= live <= 86400 or live == 0x7FFFFFFF):
            raise ApiError.bad_request("wrong live period specified")
        location = telegram.Location(longitude=lon, latitude=lat, live_period=live)
        return self._send(
            bot, p, chat, "location", location=location.to_dict(), media={"location": location}
        )

    def send_contact(self, bot: BotState, p: Params) -> Any:
        chat = self.target_chat(bot, p)
        phone = p.str("phone_number", required="phone number is empty")
        first = p.str("first_name", required="first name is empty")
        assert phone is not None and first is not None
        contact = telegram.Contact(
            phone_number=phone,
            first_name=first,
            last_name=p.str("last_name"),
            vcard=p.str("vcard"),
        )
        return self._send(
            bot, p, chat, "contact", contact=contact.to_dict(), media={"contact": contact}
        )

    def send_chat_action(self, bot: BotState, p: Params) -> Any:
        self.target_chat(bot, p)
        action = p.str("action", required="action is empty")
        if action not in CHAT_ACTIONS:
            raise ApiError.bad_request("wrong parameter action in request")
        return True

    def edit_message_text(self, bot: BotState, p: Params) -> Any:
        msg = self._editable(bot, p, "message to edit not found")
        text, entities = self._text(p)
        if msg.kind != "text":
            raise ApiError.bad_request("there is no text in the message to edit")
        return self._apply_edit(msg, p, text=text, entities=entities)

    def edit_message_caption(self, bot: BotState, p: Params) -> Any:
        msg = self._editable(bot, p, "message to edit not found")
        if msg.kind == "text":
            raise ApiError.bad_request("there is no caption in the message to edit")
        caption, entities = self._caption(p)
        return self._apply_edit(msg, p, caption=caption, entities=entities)

    def edit_message_reply_markup(self, bot: BotState, p: Params) -> Any:
        msg = self._editable(bot, p, "message to edit not found")
        return self._apply_edit(msg, p)

    def delete_message(self, bot: BotState, p: Params) -> Any:
        msg = self._sent_message(bot, p, "message to delete not found")
        if self.state.now() - msg.date > 48 * 3600:
            raise ApiError.bad_request("message can't be deleted for everyone")
        msg.deleted = True
        self.state.touch(msg)
        return True

    def answer_callback_query(self, bot: BotState, p: Params) -> Any:
        query_id = p.str("callback_query_id", required="query_id is empty")
        assert query_id is not None
        pending = self.state.callbacks.get(query_id)
        if pending is None or pending.token != bot.token or pending.answered:
            raise ApiError.bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        text = p.str("text")
        if text is not None and len(text) > CALLBACK_ANSWER_LIMIT:
            raise ApiError.bad_request("MESSAGE_TOO_LONG")
        pending.answered = True
        self.callback_answers.append(
            {
                "callback_query_id": query_id,
                "text": text,
                "show_alert": p.bool("show_alert"),
                "url": p.str("url"),
                "cache_time": p.int("cache_time", default=0),
                "chat_id": pending.chat_id,
                "message_id": pending.message_id,
                "time": time.monotonic(),
            }
        )
        self.state.bump()
        return True

    def get_file(self, bot: BotState, p: Params) -> Any:
        file_id = p.str("file_id", required="file_id is empty")
        assert file_id is not None
        stored = self.state.files.get(file_id)
        if stored is None:
            raise ApiError.bad_request("invalid file_id")
        return stored.to_ptb_file().to_dict()

    def _scope_key(self, p: Params) -> tuple[tuple[str, int | None, int | None], str]:
        scope = p.json("scope", error="can't parse BotCommandScope JSON object")
        lang = p.str("language_code") or ""
        if lang and not re.fullmatch(r"[a-z]{2}", lang):
            raise ApiError.bad_request("invalid language code specified")
        if scope is None:
            return ("default", None, None), lang
        if not isinstance(scope, dict) or scope.get("type") not in SCOPE_TYPES:
            raise ApiError.bad_request("can't parse BotCommandScope JSON object")
        parsed = telegram.BotCommandScope.de_json(scope, None)
        stype = str(parsed.type)
        chat_id = user_id = None
        if stype in ("chat", "chat_administrators", "chat_member"):
            chat_id = require_known_chat(self.state, scope.get("chat_id")).id
        if stype == "chat_member":
            user_id = scope.get("user_id")
            if not isinstance(user_id, int) or user_id not in self.state.users:
                raise ApiError.bad_request("user not found")
        return (stype, chat_id, user_id), lang

    def set_my_commands(self, bot: BotState, p: Params) -> Any:
        raw = p.json("commands", error="can't parse commands JSON object")
        if raw is None:
            raise ApiError.bad_request("commands is empty")
        if not isinstance(raw, list):
            raise ApiError.bad_request("can't parse commands JSON object")
        if len(raw) > 100:
            raise ApiError.bad_request("BOT_COMMANDS_TOO_MUCH")
        commands: list[dict[str, str]] = []
        for item in raw:
            if not isinstance(item, dict):
                raise ApiError.bad_request("can't parse BotCommand JSON object")
            command, description = item.get("command"), item.get("description")
            if not isinstance(command, str) or not _COMMAND_RE.match(command):
                raise ApiError.bad_request("BOT_COMMAND_INVALID")
            if not isinstance(description, str) or not 1 <= len(description.strip()) <= 256:
                raise ApiError.bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            commands.append(telegram.BotCommand(command, description).to_dict())
        key = self._scope_key(p)
        if commands:
            bot.commands[key] = commands
        else:
            bot.commands.pop(key, None)
        self.state.bump()
        return True

    def get_my_commands(self, bot: BotState, p: Params) -> Any:
        return list(bot.commands.get(self._scope_key(p), []))

    def delete_my_commands(self, bot: BotState, p: Params) -> Any:
        bot.commands.pop(self._scope_key(p), None)
        self.state.bump()
        return True

    def set_chat_menu_button(self, bot: BotState, p: Params) -> Any:
        chat_id = self._menu_chat_id(p)
        raw = p.json("menu_button", error="can't parse MenuButton JSON object")
        if raw is None:
            raw = {"type": "default"}
        if not isinstance(raw, dict) or raw.get("type") not in ("default", "commands", "web_app"):
            raise ApiError.bad_request("can't parse MenuButton JSON object")
        if raw["type"] == "web_app" and not (
            isinstance(raw.get("text"), str) and isinstance(raw.get("web_app"), dict)
        ):
            raise ApiError.bad_request("can't parse MenuButton JSON object")
        bot.menu_buttons[chat_id] = telegram.MenuButton.de_json(raw, None).to_dict()
        self.state.bump()
        return True

    def get_chat_menu_button(self, bot: BotState, p: Params) -> Any:
        chat_id = self._menu_chat_id(p)
        button = bot.menu_buttons.get(chat_id) or bot.menu_buttons.get(None)
        return button or {"type": "commands"}

    def get_chat(self, bot: BotState, p: Params) -> Any:
        chat = self._named_chat(p)
        info = telegram.ChatFullInfo(
            id=chat.id,
            type=chat.type,
            accent_color_id=0,
            max_reaction_count=11,
            accepted_gift_types=telegram.AcceptedGiftTypes(False, False, False, False, False),
            title=chat.title,
            username=chat.username,
            first_name=chat.first_name,
            last_name=chat.last_name,
        )
        return info.to_dict()

    def close(self, bot: BotState, p: Params) -> Any:
        return True

    def log_out(self, bot: BotState, p: Params) -> Any:
        bot.logged_out = True
        if bot.webhook is not None:
            self.state.set_webhook(bot, None)
        return True


def _inline(msg: SentMessage) -> dict[str, Any] | None:
    markup = msg.reply_markup
    return markup if markup and "inline_keyboard" in markup else None


# What Telegram assumes for an upload that names no type of its own.
_DEFAULT_MIME = {"voice": "audio/ogg", "video_note": "video/mp4"}


def _guess_mime(filename: str | None) -> str:
    guessed = mimetypes.guess_type(filename or "")[0]
    return guessed or "application/octet-stream"
