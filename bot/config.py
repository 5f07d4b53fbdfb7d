"""Settings read from the environment (and an optional ``.env``).

The names are a contract used by people and scripts outside this repository:
``BOT_TOKEN``, ``TELEGRAM_API_URL``, ``DATABASE_URL``, ``REDIS_URL``,
``DISPLAY_TZ``, ``DEFAULT_LOCALE``, ``WEBHOOK_URL`` and friends.  A missing or
malformed setting stops start-up with one line naming it (see
:func:`load_settings`), never a traceback.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

SUPPORTED_LOCALES = ("zh-Hans", "zh-Hant", "en")
TELEGRAM_DEFAULT_API = "https://api.telegram.org"
_TOKEN_RE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{4,100}$")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    bot_token: SecretStr | None = Field(default=None, alias="BOT_TOKEN")
    telegram_api_url: str = Field(default=TELEGRAM_DEFAULT_API, alias="TELEGRAM_API_URL")
    database_url: str = Field(default="sqlite+aiosqlite:///gridbot.db", alias="DATABASE_URL")
    redis_url: str | None = Field(default=None, alias="REDIS_URL")
    display_tz: str = Field(default="Asia/Shanghai", alias="DISPLAY_TZ")
    default_locale: str = Field(default="zh-Hans", alias="DEFAULT_LOCALE")
    webhook_url: str | None = Field(default=None, alias="WEBHOOK_URL")
    webhook_secret: SecretStr | None = Field(default=None, alias="WEBHOOK_SECRET")
    webhook_listen_host: str = Field(default="0.0.0.0", alias="WEBHOOK_LISTEN_HOST")
    webhook_listen_port: int = Field(default=8443, alias="WEBHOOK_LISTEN_PORT", ge=1, le=65535)
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # How many times an inbound update is tried before it is parked as failed.
    inbound_max_attempts: int = Field(default=3, alias="INBOUND_MAX_ATTEMPTS", ge=1, le=100)

    @field_validator("bot_token", mode="before")
    @classmethod
    def _check_token(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not _TOKEN_RE.match(value.strip()):
            raise ValueError("expected the form 123456789:ABC-def from @BotFather")
        return value.strip()

    @field_validator("telegram_api_url", "webhook_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("expected an http:// or https:// URL")
        return value.rstrip("/")

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError("not a database URL") from exc
        if url.drivername not in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            raise ValueError("use sqlite+aiosqlite:///FILE or postgresql+asyncpg://USER@HOST/DB")
        return value

    @field_validator("display_tz")
    @classmethod
    def _check_tz(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("unknown time zone") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _check_locale(cls, value: str) -> str:
        if value not in SUPPORTED_LOCALES:
            raise ValueError("one of " + ", ".join(SUPPORTED_LOCALES))
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.display_tz)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith("postgresql")

    def require_token(self) -> str:
        if self.bot_token is None:
            raise ConfigError("BOT_TOKEN: missing (get one from @BotFather, or use `python -m bot sandbox`)")
        return self.bot_token.get_secret_value()


def load_settings(**overrides: object) -> Settings:
    """Read settings; raise :class:`ConfigError` with one line naming the bad one."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err.get("loc") else "settings"
        field = Settings.model_fields.get(name)
        env_name = field.alias if field is not None and field.alias else name.upper()
        msg = err.get("msg", "invalid").removeprefix("Value error, ")
        raise ConfigError(f"{env_name}: {msg}") from None
