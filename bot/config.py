"""Settings read from the environment (and an optional ``.env``).

The names are a contract used by people and scripts outside this repository:
``BOT_TOKEN``, ``TELEGRAM_API_URL``, ``DATABASE_URL``, ``REDIS_URL``,
``DISPLAY_TZ``, ``DEFAULT_LOCALE``, ``WEBHOOK_URL`` and friends.  A missing or
malformed setting stops start-up with one line naming it (see
:func:`load_settings`), never a traceback.
"""

from __future__ import annotations

import re
from datetime import time
from typing import Literal
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


# Working hours and days: the settings' syntax, parsed here and used by
# bot.services.workcalendar.
_PERIOD_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_periods(spec: str) -> tuple[tuple[time, time], ...]:
    """``"08:30-12:00,13:30-17:30"`` -> ordered, non-overlapping periods of a day."""
    periods: list[tuple[time, time]] = []
    for part in (spec or "").split(","):
        m = _PERIOD_RE.match(part)
        if not m:
            raise ValueError("expected periods like 08:30-12:00,13:30-17:30")
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        if not (0 <= h1 <= 23 and 0 <= h2 <= 24 and m1 < 60 and m2 < 60) or (h2 == 24 and m2):
            raise ValueError("expected periods like 08:30-12:00,13:30-17:30")
        start = time(h1, m1)
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if end <= start:
            raise ValueError("each period must end after it starts")
        if periods and start < periods[-1][1]:
            raise ValueError("periods must be in order and must not overlap")
        periods.append((start, end))
    return tuple(periods)


def parse_weekdays(spec: str) -> frozenset[int]:
    """``"1-5"`` or ``"1,2,3,4,5,6"`` (ISO: 1 = Monday) -> Python weekdays (0 = Monday)."""
    days: set[int] = set()
    for part in (spec or "").replace(" ", "").split(","):
        if not part:
            continue
        if re.fullmatch(r"[1-7]-[1-7]", part):
            a, b = int(part[0]), int(part[2])
            if a > b:
                raise ValueError("a range of weekdays goes from low to high, like 1-5")
            days.update(range(a - 1, b))
        elif re.fullmatch(r"[1-7]", part):
            days.add(int(part) - 1)
        else:
            raise ValueError("expected ISO weekdays like 1-5 or 1,2,3,4,5 (1 = Monday)")
    if not days:
        raise ValueError("at least one working weekday")
    return frozenset(days)


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
    # Loopback unless told otherwise: the webhook sits behind a reverse proxy (TLS);
    # WEBHOOK_LISTEN_HOST=0.0.0.0 listens on every interface.
    webhook_listen_host: str = Field(default="127.0.0.1", alias="WEBHOOK_LISTEN_HOST")
    webhook_listen_port: int = Field(default=8443, alias="WEBHOOK_LISTEN_PORT", ge=1, le=65535)
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    # Observability (bot/metrics.py, bot/logs.py): "text" or "json" (one event a line);
    # /healthz, /readyz and /metrics on their own port (0: off; the webhook serves them anyway).
    log_format: Literal["text", "json"] = Field(default="text", alias="LOG_FORMAT")
    log_hash_key: SecretStr | None = Field(default=None, alias="LOG_HASH_KEY")
    metrics_port: int = Field(default=0, alias="METRICS_PORT", ge=0, le=65535)
    metrics_host: str = Field(default="127.0.0.1", alias="METRICS_HOST")
    # How many times an inbound update is tried before it is parked as failed.
    inbound_max_attempts: int = Field(default=3, alias="INBOUND_MAX_ATTEMPTS", ge=1, le=100)
    # This process's name among several sharing one PostgreSQL database; stable
    # across restarts, so a restarted process takes its own unfinished updates
    # back at once instead of waiting for their lease to run out.
    instance_name: str | None = Field(default=None, alias="INSTANCE_NAME", min_length=1, max_length=64,
                                      pattern=r"^[A-Za-z0-9_.:@-]+$")
    # How long an update stays with the process handling it without a renewal.
    inbound_lease_seconds: float = Field(default=30, alias="INBOUND_LEASE_SECONDS", ge=1, le=3600)
    # The delivery engine (bot/delivery): Telegram's caps and how failures are retried.
    delivery_enabled: bool = Field(default=True, alias="DELIVERY_ENABLED")
    # Stopping (SIGTERM, SIGINT): how long the updates in hand may take to finish, and the
    # delivery engine to record what it sent, before the process exits anyway.
    shutdown_grace_seconds: float = Field(default=10.0, alias="SHUTDOWN_GRACE_SECONDS", ge=0, le=600)
    # Answers of handlers (bot/retry.py): tries after a 5xx or a connection error, the backoff
    # between them (seconds, doubling, with jitter), and the longest 429 wait worth waiting.
    answer_max_attempts: int = Field(default=4, alias="ANSWER_MAX_ATTEMPTS", ge=1, le=20)
    answer_backoff_base: float = Field(default=0.5, alias="ANSWER_BACKOFF_BASE", gt=0, le=60)
    answer_backoff_max: float = Field(default=8.0, alias="ANSWER_BACKOFF_MAX", gt=0, le=600)
    answer_max_wait: float = Field(default=60.0, alias="ANSWER_MAX_WAIT", ge=0, le=3600)
    # Pacing of answers (bot/retry.py): messages a second to one chat, a minute to one group.
    answer_chat_rate: float = Field(default=1, alias="ANSWER_CHAT_RATE", gt=0, le=1000)
    answer_group_rate: float = Field(default=20, alias="ANSWER_GROUP_RATE", gt=0, le=60000)
    delivery_global_rate: float = Field(default=30, alias="DELIVERY_GLOBAL_RATE", gt=0, le=1000)
    delivery_chat_rate: float = Field(default=1, alias="DELIVERY_CHAT_RATE", gt=0, le=30)
    delivery_group_rate: float = Field(default=20, alias="DELIVERY_GROUP_RATE", gt=0, le=600)
    delivery_paid_broadcast: bool = Field(default=False, alias="DELIVERY_PAID_BROADCAST")
    delivery_paid_rate: float = Field(default=1000, alias="DELIVERY_PAID_RATE", gt=0, le=1000)
    delivery_max_attempts: int = Field(default=6, alias="DELIVERY_MAX_ATTEMPTS", ge=1, le=50)
    delivery_backoff_base: float = Field(default=2.0, alias="DELIVERY_BACKOFF_BASE", gt=0, le=3600)
    delivery_backoff_max: float = Field(default=900.0, alias="DELIVERY_BACKOFF_MAX", gt=0, le=86400)
    delivery_lease_seconds: float = Field(default=30.0, alias="DELIVERY_LEASE_SECONDS", ge=1, le=3600)
    delivery_send_timeout: float = Field(default=20.0, alias="DELIVERY_SEND_TIMEOUT", ge=1, le=300)
    delivery_concurrency: int = Field(default=200, alias="DELIVERY_CONCURRENCY", ge=1, le=2000)
    delivery_poll_interval: float = Field(default=1.0, alias="DELIVERY_POLL_INTERVAL", gt=0, le=60)
    quiet_hours: str = Field(default="22:00-07:00", alias="QUIET_HOURS")
    jobs_enabled: bool = Field(default=True, alias="JOBS_ENABLED")
    # Per-user limit on inbound updates (bot/ratelimit.py): USER_BURST at once, then
    # USER_RATE_PER_MINUTE a minute; 0 turns it off.  Per process (see the module).
    user_rate_per_minute: float = Field(default=60, alias="USER_RATE_PER_MINUTE", ge=0, le=6000)
    user_burst: int = Field(default=30, alias="USER_BURST", ge=1, le=1000)

    # Cases (bot/services/cases/): the working calendar that time limits count in
    # (local DISPLAY_TZ; holidays and make-up workdays come from the `holidays` table).
    work_hours: str = Field(default="08:30-12:00,13:30-17:30", alias="WORK_HOURS")
    work_days: str = Field(default="1-5", alias="WORK_DAYS")  # ISO weekdays, 1 = Monday
    case_default_accept_hours: int = Field(default=4, alias="CASE_DEFAULT_ACCEPT_HOURS", ge=1, le=1000)
    case_default_resolve_hours: int = Field(default=40, alias="CASE_DEFAULT_RESOLVE_HOURS", ge=1, le=10000)
    case_auto_close_days: int = Field(default=3, alias="CASE_AUTO_CLOSE_DAYS", ge=1, le=90)
    emergency_repeat_minutes: int = Field(default=5, alias="EMERGENCY_REPEAT_MINUTES", ge=1, le=120)
    # Escalation with handles: the grid's workers are reminded this many minutes before a new
    # case's acceptance limit (0: never); past a limit, while nobody acts, the alert climbs one
    # level (grid head → community staff → district) every CASE_ESCALATION_STEP_HOURS working hours.
    case_accept_remind_minutes: int = Field(default=60, alias="CASE_ACCEPT_REMIND_MINUTES", ge=0, le=10080)
    case_escalation_step_hours: int = Field(default=4, alias="CASE_ESCALATION_STEP_HOURS", ge=1, le=1000)
    # Caps against one user flooding the grid (bot/services/cases/limits.py): open cases of a
    # resident, cases sent per resident per local day, emergencies a resident raises per local
    # day, minutes before the same case may be flagged an emergency again, relay messages per
    # case per hour (both directions together).
    case_max_open: int = Field(default=5, alias="CASE_MAX_OPEN", ge=1, le=1000)
    case_max_per_day: int = Field(default=10, alias="CASE_MAX_PER_DAY", ge=1, le=1000)
    emergency_max_per_day: int = Field(default=2, alias="EMERGENCY_MAX_PER_DAY", ge=1, le=100)
    emergency_cooldown_minutes: int = Field(default=60, alias="EMERGENCY_COOLDOWN_MINUTES", ge=0, le=10080)
    relay_max_per_hour: int = Field(default=30, alias="RELAY_MAX_PER_HOUR", ge=1, le=10000)

    # Privacy (docs/privacy.md): days raw inbound updates and the texts of sent
    # messages are kept before the nightly retention job purges them.
    retention_days: int = Field(default=30, alias="RETENTION_DAYS", ge=1, le=3650)

    # The patrol diary (bot/services/diary/): local times (DISPLAY_TZ) of the
    # workday nudge and of the morning list of households due for a visit; how
    # long a patrol stays open if nobody ends it; how many days after an
    # entry's day its author may still correct it (kept as history).
    diary_nudge_at: str = Field(default="18:00", alias="DIARY_NUDGE_AT")
    diary_due_list_at: str = Field(default="07:30", alias="DIARY_DUE_LIST_AT")
    diary_patrol_max_hours: int = Field(default=12, alias="DIARY_PATROL_MAX_HOURS", ge=1, le=24)
    diary_late_edit_days: int = Field(default=7, alias="DIARY_LATE_EDIT_DAYS", ge=0, le=90)

    # Appointments at stations (bot/services/appointments/): the defaults of a plan that
    # staff have not edited (hours come from the station's opening hours), and the resident limit.
    appointment_max_upcoming: int = Field(default=3, alias="APPOINTMENT_MAX_UPCOMING", ge=1, le=50)
    appointment_slot_minutes: int = Field(default=30, alias="APPOINTMENT_SLOT_MINUTES", ge=5, le=480)
    appointment_capacity: int = Field(default=2, alias="APPOINTMENT_CAPACITY", ge=1, le=200)
    appointment_horizon_days: int = Field(default=14, alias="APPOINTMENT_HORIZON_DAYS", ge=1, le=90)
    appointment_min_notice_minutes: int = Field(default=120, alias="APPOINTMENT_MIN_NOTICE_MINUTES", ge=0,
                                                le=10080)
    appointment_cancel_cutoff_minutes: int = Field(default=60, alias="APPOINTMENT_CANCEL_CUTOFF_MINUTES", ge=0,
                                                   le=10080)
    # Catalogue codes booked as a visit to the resident's home rather than at the station.
    appointment_home_services: str = Field(default="AP-HOMEVISIT", alias="APPOINTMENT_HOME_SERVICES")

    # Staff reports (bot/services/reports/): the district's targets, each shown met or missed
    # (percentages; rework is a ceiling, the others are floors).  See docs/metrics.md.
    report_target_completion: float = Field(default=95, alias="REPORT_TARGET_COMPLETION", ge=0, le=100)
    report_target_on_time: float = Field(default=90, alias="REPORT_TARGET_ON_TIME", ge=0, le=100)
    report_target_rework: float = Field(default=5, alias="REPORT_TARGET_REWORK", ge=0, le=100)
    report_target_satisfied: float = Field(default=90, alias="REPORT_TARGET_SATISFIED", ge=0, le=100)

    # Open311 GeoReport v2 (`python -m bot open311`, docs/open311.md): the public URL of
    # /open311/v2/ behind the reverse proxy (for discovery; empty: as the request came), the
    # contact it names, and each client's limit (per API key, else per address): OPEN311_BURST
    # requests at once, then OPEN311_RATE_PER_MINUTE a minute; 0 turns it off.
    open311_base_url: str = Field(default="", alias="OPEN311_BASE_URL", max_length=300)
    open311_contact: str = Field(default="", alias="OPEN311_CONTACT", max_length=300)
    open311_rate_per_minute: float = Field(default=120, alias="OPEN311_RATE_PER_MINUTE", ge=0, le=60000)
    open311_burst: int = Field(default=60, alias="OPEN311_BURST", ge=1, le=10000)

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

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _check_webhook_secret(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value):
            raise ValueError("1-256 characters A-Z, a-z, 0-9, _ and - (Telegram's secret_token)")
        return value

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

    @field_validator("diary_nudge_at", "diary_due_list_at")
    @classmethod
    def _check_time_of_day(cls, value: str) -> str:
        value = (value or "").strip()
        if not re.match(r"^([01]?\d|2[0-3]):[0-5]\d$", value):
            raise ValueError("expected a time of day HH:MM like 18:00")
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet_hours(cls, value: str) -> str:
        value = (value or "").strip()
        if value and not re.match(r"^([01]?\d|2[0-3]):[0-5]\d-([01]?\d|2[0-3]):[0-5]\d$", value):
            raise ValueError("expected HH:MM-HH:MM like 22:00-07:00 (empty: no quiet hours)")
        return value

    @field_validator("work_hours")
    @classmethod
    def _check_work_hours(cls, value: str) -> str:
        parse_periods(value)  # raises ValueError with the reason
        return value

    @field_validator("work_days")
    @classmethod
    def _check_work_days(cls, value: str) -> str:
        parse_weekdays(value)
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

    def require_webhook_secret(self) -> str | None:
        """The webhook's secret token; ``None`` in polling mode.  A webhook without a
        secret would accept any POSTed update (an "admin" included): refused."""
        if self.webhook_url is None:
            return None
        if self.webhook_secret is None:
            raise ConfigError("WEBHOOK_SECRET: missing; required when WEBHOOK_URL is set "
                              "(Telegram sends it with every update)")
        return self.webhook_secret.get_secret_value()


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
