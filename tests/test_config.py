"""Settings: a missing or malformed value stops start-up with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

ROOT = Path(__file__).resolve().parent.parent


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL", "DISPLAY_TZ", "DEFAULT_LOCALE", "REDIS_URL",
                 "WEBHOOK_LISTEN_HOST"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///gridbot.db"
    assert settings.telegram_api_url == "https://api.telegram.org"
    assert settings.display_tz == "Asia/Shanghai" and settings.default_locale == "zh-Hans"
    assert settings.bot_token is None
    assert settings.webhook_listen_host == "127.0.0.1"  # loopback unless told otherwise


@pytest.mark.parametrize(
    "name,value,fragment",
    [
        ("BOT_TOKEN", "not-a-token", "BOT_TOKEN"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ("DATABASE_URL", "::::", "DATABASE_URL"),
        ("DISPLAY_TZ", "Mars/Olympus", "DISPLAY_TZ"),
        ("DEFAULT_LOCALE", "fr", "DEFAULT_LOCALE"),
        ("TELEGRAM_API_URL", "ftp://x", "TELEGRAM_API_URL"),
        ("WEBHOOK_LISTEN_PORT", "99999", "WEBHOOK_LISTEN_PORT"),
        ("WEBHOOK_SECRET", "has spaces", "WEBHOOK_SECRET"),
    ],
)
def test_bad_setting_names_itself(monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as err:
        load_settings(_env_file=None)
    assert str(err.value).startswith(fragment + ":")


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"BOT_TOKEN", "DATABASE_URL", "TELEGRAM_API_URL"}}
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=60)


def test_run_without_token_is_one_line(tmp_path: Path) -> None:
    result = _run("run", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "BOT_TOKEN" in result.stderr and "Traceback" not in result.stderr


def test_malformed_setting_is_one_line() -> None:
    result = _run("run", DISPLAY_TZ="Nowhere/Nothing", BOT_TOKEN="123456:abcdefgh")
    assert result.returncode == 2
    assert result.stderr.strip() == "configuration error: DISPLAY_TZ: unknown time zone"


def test_webhook_without_secret_is_refused(tmp_path: Path) -> None:
    """Closed by default: a webhook that would accept any POSTed update never starts."""
    result = _run("run", DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/x.db", BOT_TOKEN="123456:abcdefgh",
                  WEBHOOK_URL="https://bot.example.org/tg", WEBHOOK_SECRET="")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith("configuration error: WEBHOOK_SECRET:"), result.stderr
    assert not (tmp_path / "x.db").exists()  # refused before anything was touched
