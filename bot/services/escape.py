"""The one HTML escape for text the bot shows in Telegram's HTML parse mode
(names, residents' words, notes), whether a handler or a service renders it."""

from __future__ import annotations

import html


def esc(text: str | None) -> str:
    return html.escape(text or "")
