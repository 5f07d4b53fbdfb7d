"""Logging set-up: ``LOG_FORMAT=text`` (the default) or ``json``, one event a line.

Every record passes a redacting filter first: the bot token and the webhook
secret are replaced wherever they appear (an aiohttp error quotes the request
URL, which holds the token).  The JSON lines carry the fields an operator
filters on (``update_id``, ``chat``, ``type``, ``duration_ms``, ``outcome``)
when the record has them; a chat id only ever appears hashed with a key
(:func:`chat_hasher`), never in clear, and no message text is logged.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from bot.config import Settings

# The extra fields a record may carry (``log.info(..., extra={...})``), in output order.
FIELDS = ("update_id", "chat", "type", "duration_ms", "outcome", "job", "lateness_ms")
_HASH_CONTEXT = b"gridbot log chat ids v1"


def chat_hasher(settings: Settings) -> Callable[[int | str], str]:
    """A keyed hash of chat ids for logs: the same chat gives the same 16 hex
    digits in every process of one deployment, so its lines can be followed,
    but without the key nobody can hash the known ids and look them up.  The
    key is ``LOG_HASH_KEY``, or derived from the bot token when it is unset."""
    if settings.log_hash_key is not None:
        key = settings.log_hash_key.get_secret_value().encode()
    elif settings.bot_token is not None:
        key = hmac.new(settings.bot_token.get_secret_value().encode(), _HASH_CONTEXT, hashlib.sha256).digest()
    else:
        key = _HASH_CONTEXT  # no secret at all (a command without a token): still never the id itself

    def hash_chat(chat_id: int | str) -> str:
        return hmac.new(key, str(chat_id).encode(), hashlib.sha256).hexdigest()[:16]

    return hash_chat


class RedactSecrets(logging.Filter):
    """Replaces the token and the webhook secret in a record's message and traceback."""

    def __init__(self, secrets: dict[str, str]) -> None:
        super().__init__()
        self.secrets = {value: name for value, name in secrets.items() if value}

    def _clean(self, text: str) -> str:
        for value, name in self.secrets.items():
            if value in text:
                text = text.replace(value, f"<{name}>")
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        cleaned = self._clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self._clean(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self._clean(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        event: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                event[name] = value
        if record.exc_info:
            event["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            event["exc"] = record.exc_text
        return json.dumps(event, ensure_ascii=False, default=str)


def setup_logging(settings: Settings, stream=None) -> None:  # type: ignore[no-untyped-def]
    """Configure the root logger once per process (replaces its handlers)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    secrets = {
        settings.bot_token.get_secret_value() if settings.bot_token else "": "BOT_TOKEN",
        settings.webhook_secret.get_secret_value() if settings.webhook_secret else "": "WEBHOOK_SECRET",
    }
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    # Alembic announces each of its plugins at INFO whenever its scripts are loaded.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
