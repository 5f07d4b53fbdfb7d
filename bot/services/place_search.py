"""Finding a place by the few words a person types: "铁路2号", "铁路小区二号楼",
"站前 ２号", "tielu 2".

People do not type a building's name as it is written.  They leave words out
(铁路2号 for 铁路小区2号楼), write numbers in Chinese (二号楼, 十二栋), use
full-width digits from a Chinese keyboard, or add spaces.  :func:`match` says how
well a query fits a name: the query's pieces must appear in the name in the same
order, where a piece is one Chinese character, a whole number (2 never matches
12) or the start of a Latin word.  Plain text in and out; no database.
"""

from __future__ import annotations

import re
import unicodedata

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_CN_NUMBER = re.compile(f"[{''.join(_CN_DIGITS)}{''.join(_CN_UNITS)}]+")
_PIECES = re.compile(r"\d+|[a-z]+|[^\W\d_a-z]", re.UNICODE)

# How a name fits: the query as one run of the name (best), or its pieces in order.
CONTIGUOUS, IN_ORDER = 2, 1


def _cn_number(run: str) -> str:
    """一 → 1, 十二 → 12, 二十 → 20, 一百零五 → 105, 二〇二六 → 2026 (digit by digit)."""
    if not any(ch in _CN_UNITS for ch in run):
        return "".join(str(_CN_DIGITS[ch]) for ch in run)
    total, digit = 0, None
    for ch in run:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
    return str(total + (digit or 0))


def _prepared(text: str) -> str:
    return _CN_NUMBER.sub(lambda m: _cn_number(m.group()), unicodedata.normalize("NFKC", text).casefold())


def normalize(text: str) -> str:
    """Full-width forms made plain (NFKC), case folded, Chinese numbers as digits,
    spaces and punctuation gone."""
    return "".join(ch for ch in _prepared(text) if ch.isalnum())


def _pieces(text: str) -> list[str]:
    """One Chinese character, a whole number, or a Latin word each."""
    return _PIECES.findall(_prepared(text))


def _fits(wanted: str, piece: str) -> bool:
    if wanted.isascii() and wanted.isalpha():
        return piece.startswith(wanted)  # "tie" for Tielu
    if wanted.isdigit():
        return piece.isdigit() and int(piece) == int(wanted)  # a number whole: 2 is not 12, but 02
    return piece == wanted


def match(query: str, name: str) -> int | None:
    """How well ``query`` fits ``name``: CONTIGUOUS (its pieces one after another
    in the name), IN_ORDER (in the name's order, others between), or None."""
    wanted, have = _pieces(query), _pieces(name)
    if not wanted:
        return None
    for start in range(len(have) - len(wanted) + 1):
        if all(_fits(w, h) for w, h in zip(wanted, have[start:start + len(wanted)], strict=True)):
            return CONTIGUOUS
    i = 0
    for piece in have:
        if i < len(wanted) and _fits(wanted[i], piece):
            i += 1
    return IN_ORDER if i == len(wanted) else None
