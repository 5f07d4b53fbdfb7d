"""A file someone sent with what they wrote, as the features keep it: Telegram's
ids, never the bytes, or a location.  Each feature names what it keeps with its
own enum (the case loop's :class:`models.AttachmentKind`, the diary's
:class:`models.DiaryMediaKind`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

KindT = TypeVar("KindT", bound=Enum)


@dataclass(frozen=True, slots=True)
class SentFile(Generic[KindT]):
    """A file (``file_id``, ``file_unique_id``) or a location (``latitude``, ``longitude``)."""

    kind: KindT
    file_id: str | None = None
    file_unique_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
