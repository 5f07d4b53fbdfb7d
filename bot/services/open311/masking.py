"""What a client system wrote, as the public reads it: phone numbers, email
addresses and flat or room numbers masked.

A request filed through the API publishes its description (and the notes
its system posts), since it was written for a public system; but a hotline
operator or a web form's user may still type "住3-501，电话139…" into it.
The workers read the words as sent; the API publishes them with such
details replaced by ``***``.  Patterns find the common forms only (a name
cannot be told from other words): docs/open311.md says what is masked.
"""

from __future__ import annotations

import re

MASK = "***"

_PATTERNS = (
    # Email addresses.
    re.compile(r"[^\s@<>()\[\]{}\"',;:，；：（）]+@[^\s@<>()\[\]{}\"',;:，；：（）]+\.[A-Za-z]{2,}"),
    # Phones: +86 139 1234 5678; 139 1234 5678 / 139-1234-5678; 0435-3212345; any run of 7 digits or more.
    re.compile(r"\+\d{1,3}(?:[\s-]?\d){7,14}"),
    re.compile(r"(?<!\d)1\d{2}[\s-]\d{4}[\s-]\d{4}(?!\d)"),
    re.compile(r"(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"),
    re.compile(r"(?<!\d)\d{7,}(?!\d)"),
    # Flats: building-unit-room (3-2-501) and building-room (3-501); not a date (2026-12-05) nor a range (2025-2026).
    re.compile(r"(?<![\d-])\d{1,3}\s*[-－—]\s*\d{1,2}\s*[-－—]\s*\d{3,4}(?![\d-])"),
    re.compile(r"(?<![\d-])\d{1,3}\s*[-－—]\s*\d{3,4}(?![\d-])"),
    # Rooms: 501室, 1204号房, 302户; 2单元501; Room 1204, flat 3B, apt. 12.
    re.compile(r"\d{2,5}\s*(?:室|号房|號房|房间|房間|户|戶)"),
    re.compile(r"(?<=单元|單元)\s*\d{3,4}(?!\d)"),
    re.compile(r"\b(?:room|flat|apt\.?|apartment)\s*(?:no\.?\s*)?#?\s*\d+[A-Za-z]?\b", re.IGNORECASE),
)


def masked(text: str | None) -> str | None:
    """``text`` with phones, email addresses and flat or room numbers replaced by ``***``."""
    if not text:
        return text
    for pattern in _PATTERNS:
        text = pattern.sub(MASK, text)
    return text
