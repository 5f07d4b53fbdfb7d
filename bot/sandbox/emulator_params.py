"""Request parameters and reply-markup validation for the Bot API emulator.

Parameters arrive in any encoding the Bot API accepts (query string, JSON body,
urlencoded, multipart with files) and are wrapped in :class:`Params` for typed,
Telegram-flavoured access.  :func:`parse_reply_markup` validates a ``reply_markup`` the
way Telegram does and normalises it through python-telegram-bot classes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import telegram
from aiohttp import web

from bot.sandbox.emulator_types import ApiError

__all__ = [
    "Params",
    "UploadedFile",
    "parse_reply_markup",
    "read_multipart",
    "read_request_params",
]

# Parameters whose string value is JSON (decoded in call records for readability).
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "commands",
        "scope",
        "allowed_updates",
        "reply_parameters",
        "link_preview_options",
        "menu_button",
    }
)
# An inline button needs exactly one of these besides its text.
_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)


# ------------------------------------------------------------------ parameters


@dataclass
class UploadedFile:
    """A multipart part that carried a filename."""

    filename: str
    content_type: str | None
    data: bytes

    def describe(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "content_type": self.content_type,
            "size": len(self.data),
        }


async def read_multipart(reader: aiohttp.MultipartReader) -> dict[str, Any]:
    """Collect multipart fields: text parts as ``str``, parts with a filename as files."""
    values: dict[str, Any] = {}
    while True:
        part = await reader.next()
        if part is None:
            break
        if not isinstance(part, aiohttp.BodyPartReader):
            values.update(await read_multipart(part))
            continue
        name = part.name or ""
        if part.filename is not None:
            data = await part.read(decode=True)
            values[name] = UploadedFile(
                part.filename, part.headers.get("Content-Type"), bytes(data)
            )
        else:
            values[name] = await part.text()
    return values


async def read_request_params(request: web.Request) -> dict[str, Any]:
    """Read Bot API parameters from the query string and any supported body encoding."""
    values: dict[str, Any] = dict(request.query)
    if request.method != "POST" or not request.body_exists:
        return values
    ctype = request.content_type
    try:
        if ctype == "application/json":
            body = await request.json()
            if not isinstance(body, dict):
                raise ApiError.bad_request("JSON object expected in the request body")
            values.update(body)
        elif ctype == "multipart/form-data":
            values.update(await read_multipart(await request.multipart()))
        elif ctype == "application/x-www-form-urlencoded" or not ctype:
            values.update(await request.post())
        else:
            raise ApiError.bad_request(f"unsupported Content-Type {ctype}")
    except (ValueError, aiohttp.ClientPayloadError) as exc:
        raise ApiError.bad_request(f"can't parse request body: {exc}") from exc
    return values


class Params:
    """Typed, Telegram-flavoured access to request parameters."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def raw(self, name: str, required: str | None = None) -> Any:
        """The value of ``name``, None if absent or empty (then the error ``required``, if any)."""
        value = self.values.get(name)
        if value is None or value == "":
            if required:
                raise ApiError.bad_request(required)
            return None
        return value

    def has(self, name: str) -> bool:
        return self.raw(name) is not None

    def str(self, name: str, *, required: str | None = None) -> str | None:
        value = self.raw(name, required)
        if value is None:
            return None
        if isinstance(value, UploadedFile):
            raise ApiError.bad_request(f'parameter "{name}" must be a String')
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    def int(
        self, name: str, *, required: str | None = None, default: int | None = None
    ) -> int | None:
        value = self.raw(name, required)
        if value is None:
            return default
        if isinstance(value, bool) or isinstance(value, UploadedFile):
            raise ApiError.bad_request(f'parameter "{name}" must be an Integer')
        try:
            return int(value) if isinstance(value, int) else int(str(value).strip())
        except ValueError:
            raise ApiError.bad_request(f'parameter "{name}" must be an Integer') from None

    def float(self, name: str, *, required: str | None = None) -> float | None:
        value = self.raw(name, required)
        if value is None:
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ApiError.bad_request(f'parameter "{name}" must be a Float') from None

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("true", "1", "yes"):
            return True
        if text in ("false", "0", "no"):
            return False
        raise ApiError.bad_request(f'parameter "{name}" must be a Boolean')

    def json(self, name: str, *, error: str | None = None) -> Any:
        value = self.raw(name)
        if value is None or not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError:
            raise ApiError.bad_request(error or f"can't parse {name} JSON object") from None

    def chat_ref(self) -> Any:
        return self.raw("chat_id")

    def recorded(self) -> dict[str, Any]:
        """A JSON-friendly copy for call records (files described, JSON fields decoded)."""
        result: dict[str, Any] = {}
        for key, value in self.values.items():
            if isinstance(value, UploadedFile):
                result[key] = value.describe()
            elif key in JSON_FIELDS and isinstance(value, str):
                try:
                    result[key] = json.loads(value)
                except ValueError:
                    result[key] = value
            else:
                result[key] = value
        return result


# ---------------------------------------------------------------- reply markup


def _button_error(reason: str) -> ApiError:
    return ApiError.bad_request(f"can't parse inline keyboard button: {reason}")


def _valid_button_url(url: str) -> bool:
    if not url or any(c.isspace() for c in url):
        return False
    parts = urlsplit(url if "://" in url or url.startswith("tg:") else f"http://{url}")
    if parts.scheme in ("http", "https"):
        return (
            bool(parts.hostname) and "." in (parts.hostname or "") or parts.hostname == "localhost"
        )
    return parts.scheme in ("tg", "ton")


def _parse_inline_keyboard(obj: dict[str, Any]) -> dict[str, Any] | None:
    rows = obj.get("inline_keyboard")
    if not isinstance(rows, list) or any(not isinstance(r, list) for r in rows):
        raise ApiError.bad_request(
            'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
        )
    count = 0
    for row in rows:
        for button in row:
            count += 1
            if not isinstance(button, dict):
                raise _button_error("InlineKeyboardButton must be an Object")
            if not isinstance(button.get("text"), str):
                raise _button_error('Field "text" must be of type String')
            if not any(key in button for key in _INLINE_ACTIONS):
                raise ApiError.bad_request(
                    "can't parse inline keyboard button: Text buttons are unallowed in the "
                    "inline keyboard"
                )
            if "callback_data" in button:
                data = button["callback_data"]
                if not isinstance(data, str) or not 1 <= len(data.encode("utf-8")) <= 64:
                    raise ApiError.bad_request("BUTTON_DATA_INVALID")
            if "url" in button:
                url = button["url"]
                if not isinstance(url, str) or not _valid_button_url(url):
                    raise ApiError.bad_request("BUTTON_URL_INVALID")
    if count > 100:
        raise ApiError.bad_request("reply markup is too long")
    if count == 0:
        return None
    try:
        return telegram.InlineKeyboardMarkup.de_json(obj, None).to_dict()
    except (TypeError, ValueError, KeyError) as exc:
        raise _button_error(str(exc)) from None


def _parse_reply_keyboard(obj: dict[str, Any]) -> dict[str, Any]:
    rows = obj.get("keyboard")
    if not isinstance(rows, list) or any(not isinstance(r, list) for r in rows):
        raise ApiError.bad_request(
            'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
        )
    normalized: list[list[dict[str, Any]]] = []
    for row in rows:
        out_row: list[dict[str, Any]] = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise ApiError.bad_request(
                    'can\'t parse keyboard button: Field "text" must be of type String'
                )
            if not button["text"].strip():
                raise ApiError.bad_request("can't parse keyboard button: text must be non-empty")
            out_row.append(button)
        if out_row:
            normalized.append(out_row)
    if not normalized:
        raise ApiError.bad_request("keyboard must be non-empty")
    data = dict(obj)
    data["keyboard"] = normalized
    try:
        return telegram.ReplyKeyboardMarkup.de_json(data, None).to_dict()
    except (TypeError, ValueError, KeyError) as exc:
        raise ApiError.bad_request(f"can't parse keyboard button: {exc}") from None


def parse_reply_markup(raw: Any, *, inline_only: bool = False) -> dict[str, Any] | None:
    """Validate a reply_markup value (JSON string or object) and normalise it via PTB."""
    if raw is None or raw == "":
        return None
    obj = raw
    if isinstance(raw, str):
        try:
            obj = json.loads(raw)
        except ValueError:
            raise ApiError.bad_request("can't parse reply keyboard markup JSON object") from None
    if not isinstance(obj, dict):
        raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in obj:
        return _parse_inline_keyboard(obj)
    if inline_only:
        raise ApiError.bad_request("inline keyboard expected")
    if "keyboard" in obj:
        return _parse_reply_keyboard(obj)
    if "remove_keyboard" in obj:
        if obj.get("remove_keyboard") is not True:
            raise ApiError.bad_request('field "remove_keyboard" must be true')
        return telegram.ReplyKeyboardRemove.de_json(obj, None).to_dict()
    if "force_reply" in obj:
        if obj.get("force_reply") is not True:
            raise ApiError.bad_request('field "force_reply" must be true')
        return telegram.ForceReply.de_json(obj, None).to_dict()
    raise ApiError.bad_request("can't parse reply keyboard markup JSON object")
