"""What people type, checked the same way in every feature: a text left empty and
one over its limit are refused with the same :class:`InvalidInput` codes
(``empty_text``, ``text_too_long`` with its ``limit``), which handlers turn into
the same answers."""

from __future__ import annotations

from bot.services.errors import InvalidInput


def typed_text(text: str | None, limit: int, *, one_line: bool = False) -> str:
    """``text`` stripped (with ``one_line``, every run of white space, line breaks
    too, made one space); ``InvalidInput`` when nothing is left of it or it is
    longer than ``limit``."""
    text = " ".join((text or "").split()) if one_line else (text or "").strip()
    if not text:
        raise InvalidInput("empty_text")
    if len(text) > limit:
        raise InvalidInput("text_too_long", limit=limit)
    return text
