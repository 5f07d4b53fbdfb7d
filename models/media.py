"""The kinds of thing a message can carry that the bot keeps a reference to:
Telegram keeps the file, we keep its ids (or a location's coordinates).

Case attachments (``models.cases``) and diary attachments (``models.diary``)
store the same kinds; the two names they use, ``AttachmentKind`` and
``DiaryMediaKind``, both stand for :class:`MediaKind`.
"""

from __future__ import annotations

import enum

__all__ = ["MediaKind"]


class MediaKind(enum.StrEnum):
    photo = "photo"
    voice = "voice"
    audio = "audio"
    video = "video"
    video_note = "video_note"
    document = "document"
    location = "location"
