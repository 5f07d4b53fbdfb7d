"""The sandbox's clock control: move the bot's notion of time forward.

The bot reads the time only through :func:`models.base.utcnow`, which adds a
process-wide offset (:func:`models.base.set_clock_offset`).  The sandbox moves
that offset forward by hours or days, gives the Bot API emulator a matching
clock (so message dates follow) and remembers the offset per database in
``sandbox-data/clock.json``: after a restart the sandbox's time does not jump
back behind the times already stored in its database.

Time moves forward, or is reset to the real time (a trainer starting a new
session): events stored meanwhile then lie in the future, which the bot
tolerates (the scheduler waits for its next due time).  Components that sleep
until a due time are woken through :func:`models.base.on_clock_change`.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from models.base import clock_offset, set_clock_offset, utcnow

__all__ = ["MAX_STEP", "ClockError", "SandboxClock"]

log = logging.getLogger(__name__)

MAX_STEP = timedelta(days=366)


class ClockError(ValueError):
    """An advance the clock refuses (not forward, or too far at once)."""


def _db_key(database_url: str) -> str:
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - a key only; the URL was validated by Settings
        return database_url


class SandboxClock:
    """Owns the process clock offset while a sandbox runs."""

    def __init__(self, state_file: Path | None, database_url: str) -> None:
        self.state_file = state_file
        self.key = _db_key(database_url)

    # -- persistence ---------------------------------------------------------
    def _read_all(self) -> dict[str, Any]:
        if self.state_file is None or not self.state_file.exists():
            return {}
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.state_file, exc)
            return {}
        return data if isinstance(data, dict) else {}

    def load(self) -> timedelta:
        """Apply the offset remembered for this database (zero if none)."""
        saved = self._read_all().get(self.key)
        offset = timedelta(seconds=float(saved)) if isinstance(saved, int | float) and saved > 0 else timedelta(0)
        set_clock_offset(offset)
        return offset

    def _save(self) -> None:
        if self.state_file is None:
            return
        data = self._read_all()
        data[self.key] = clock_offset().total_seconds()
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
        tmp.replace(self.state_file)

    # -- reading -------------------------------------------------------------
    @staticmethod
    def now() -> datetime:
        return utcnow()

    @staticmethod
    def epoch() -> float:
        """Epoch seconds on the sandbox clock (the emulator's message dates)."""
        return time.time() + clock_offset().total_seconds()

    def as_json(self) -> dict[str, Any]:
        now = self.now()
        return {
            "now": now.isoformat(),
            "now_ms": int(now.timestamp() * 1000),
            "offset_seconds": int(clock_offset().total_seconds()),
        }

    # -- moving --------------------------------------------------------------
    @staticmethod
    def check(delta: timedelta) -> None:
        """``ClockError`` unless ``delta`` is a step the clock takes (forward, at most :data:`MAX_STEP`)."""
        if delta <= timedelta(0):
            raise ClockError("the clock only moves forward")
        if delta > MAX_STEP:
            raise ClockError("at most 366 days at a time")

    def advance(self, delta: timedelta) -> timedelta:
        """Move the clock forward by ``delta``; returns the new offset."""
        self.check(delta)
        offset = clock_offset() + delta
        set_clock_offset(offset)
        self._save()
        log.info("sandbox clock advanced by %s; now %s", delta, self.now().isoformat())
        return offset

    def reset(self) -> None:
        """Back to the real time (offset zero), remembered for this database."""
        set_clock_offset(timedelta(0))
        self._save()
        log.info("sandbox clock reset to the real time")

    @staticmethod
    def release() -> None:
        """Give the process its real clock back (when the sandbox stops)."""
        set_clock_offset(timedelta(0))
