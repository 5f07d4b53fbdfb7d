"""What a person wrote before agreeing to the privacy notice.

A stranger's first message is often the whole matter ("楼道的灯坏了"), and the
privacy notice comes first: nothing is made of it before they agree.  The raw
update is kept anyway, like every update, for ``RETENTION_DAYS``
(``retention.py``).  Once they have agreed and told where they live, the bot
offers those words back, once, to send as a request: they see them and choose;
nothing is sent, or kept in a case, unless they do.  docs/privacy.md says so.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import InboundUpdate, User
from models.direct import DirectStatement

# A stranger's words this soon after their last ones get a short line, not the notice again.
NOTICE_FRESH = timedelta(minutes=10)
# Words written this long before agreeing are no longer the matter at hand.
WITHIN = timedelta(hours=24)
# At most this many messages are offered back (the last ones).
MAX_MESSAGES = 5


async def words_before_consent(session: AsyncSession, user: User, bot_id: int, *,
                               not_words: Collection[str] = frozenset()) -> list[str]:
    """The texts ``user`` sent the bot ``bot_id`` in private before agreeing to the privacy
    notice (in the day before, commands and ``not_words`` left out: the menu's buttons they
    tapped), oldest first; [] until they have agreed.
    (By bot, chat and update id: the stored updates' index, not a scan of all of them.)"""
    agreed = user.privacy_consent_at
    if agreed is None:
        return []
    payloads = await session.scalars(
        select(InboundUpdate.payload)
        .where(InboundUpdate.bot_id == bot_id, InboundUpdate.chat_id == user.telegram_id,
               InboundUpdate.received_at <= agreed,
               InboundUpdate.received_at >= agreed - WITHIN)
        .order_by(InboundUpdate.update_id)
    )
    words: list[str] = []
    for payload in payloads:
        message = json.loads(payload).get("message") or {}
        text = (message.get("text") or "").strip()
        if text and not text.startswith("/") and text not in not_words:
            words.append(text)
    return words[-MAX_MESSAGES:]


# Asked for each message of someone who has not agreed (models.direct: no ORM on the way).
# In the order of the stored updates' index (bot, chat, update id; the row id breaks a tie
# of ids Telegram reused): the row just before is the first one read.
_u = InboundUpdate.__table__
_PREVIOUS = DirectStatement(
    select(_u.c.payload)
    .where(_u.c.bot_id == bindparam("bot_id"), _u.c.chat_id == bindparam("chat_id"),
           _u.c.update_id < bindparam("update_id"),
           _u.c.received_at >= bindparam("since", type_=_u.c.received_at.type))
    .order_by(_u.c.update_id.desc(), _u.c.id.desc()).limit(1))


async def notice_just_above(session: AsyncSession, bot_id: int, chat_id: int, update_id: int,
                            now: datetime, *, not_words: Collection[str] = frozenset()) -> bool:
    """Whether this chat's update before update ``update_id`` came within
    :data:`NOTICE_FRESH` and was words (text or media, not a command, a press nor one of
    ``not_words``, the menu's buttons, which have answers of their own): someone who has
    not agreed was answered it with the privacy notice, which is just above."""
    payload = (await _PREVIOUS.run(session, {"bot_id": bot_id, "chat_id": chat_id, "update_id": update_id,
                                             "since": now - NOTICE_FRESH})).scalar()
    if payload is None:
        return False
    message = json.loads(payload).get("message")
    if not isinstance(message, dict):
        return False
    text = message.get("text")
    return not (isinstance(text, str) and (text.startswith("/") or text.strip() in not_words))
