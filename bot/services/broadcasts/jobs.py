"""The follow-up lists of important notices: 24 hours after a notice that asked
for "I have read it", each grid's workers and grid head get the residents of
their own grid (by the resident's building) who have not pressed it, to visit
them, with the phone masked (138****3001: the worker reaches the resident
through the case loop or the household ledger, not from a list that is
forwarded easily).  The head of each building gets its own residents (a unit
head those of their unit), names only, to knock on doors.

``broadcast_ack_followups`` runs every 15 minutes; each list is one outbox row
per worker and message (``OutboxKind.nudge``, dedupe key per notice, grid,
worker and part, so a rerun queues nothing new), in the worker's language.
"""

from __future__ import annotations

import html
import re
from datetime import timedelta

from bot.jobs import JobContext, recurring
from bot.services.broadcasts.notices import Followup, due_followups, mark_followup_sent
from bot.services.escape import esc
from bot.services.l10n import Translate, translator
from bot.services.notify import notify, recipient_locale
from models import OutboxKind, OutboxStatus, i18n_name

FOLLOWUP_PER_MESSAGE = 40
_TAG = re.compile(r"<[^>]+>")


def followup_texts(_: Translate, item: Followup, locale: str, *, head: bool = False) -> list[str]:
    """The list for one worker (or, with ``head``, a building or unit head: their own
    building's residents, no phones), in their language, split to fit Telegram messages."""
    grid = i18n_name(item.grid_names, locale, item.grid_code)
    notice = esc(_strip_tags(item.notice))[:120]
    states = {
        OutboxStatus.unreachable: _("blocked the bot"),
        OutboxStatus.failed: _("not delivered"),
        OutboxStatus.unknown: _("delivery unknown"),
        OutboxStatus.cancelled: _("not sent"),
    }
    lines = []
    for r in item.residents:
        line = f"• {esc(r.name)}, {esc(i18n_name(r.building_names, locale, r.building_code))}"
        if r.unit and head:
            line += " · " + _("unit {unit}").format(unit=r.unit)
        if r.phone:
            line += f", {esc(r.phone)}"
        if r.delivery in states:
            line += f" ({states[r.delivery]})"
        lines.append(line)
    chunks = [lines[i:i + FOLLOWUP_PER_MESSAGE] for i in range(0, len(lines), FOLLOWUP_PER_MESSAGE)]
    if head:
        title = _("These neighbours in your building have not confirmed notice #{id} after 24 hours. "
                  "Please knock on their doors and tell them:").format(id=item.broadcast_id)
    else:
        title = _("These residents of {grid} have not confirmed notice #{id} after 24 hours. "
                  "Please visit or call them:").format(grid=esc(grid), id=item.broadcast_id)
    out = []
    for n, chunk in enumerate(chunks, 1):
        part = f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""
        out.append(f"{title}{part}\n<i>{notice}</i>\n\n" + "\n".join(chunk))
    return out


def _strip_tags(text: str) -> str:
    return html.unescape(_TAG.sub("", text or ""))


@recurring("broadcast_ack_followups", every=timedelta(minutes=15))
async def ack_followups(ctx: JobContext) -> None:
    """24 hours after an important notice: each grid's workers get the residents who did not confirm."""
    async with ctx.sessionmaker() as session:
        for broadcast, items in await due_followups(session, ctx.now):
            for item in items:
                for worker in item.workers:
                    locale = recipient_locale(worker, ctx.settings.default_locale)
                    texts = followup_texts(translator(locale), item, locale)
                    for n, text in enumerate(texts):
                        await notify(session, recipient=worker, kind=OutboxKind.nudge,
                                     dedupe_key=f"bc-follow:{broadcast.id}:{item.grid_id}:{worker.id}:{n}",
                                     text=text)
                # The heads of the buildings (units), to knock on doors: their own neighbours only.
                for head, building_id, units in item.heads:
                    mine = item.for_head(building_id, units)
                    if not mine.residents:
                        continue
                    locale = recipient_locale(head, ctx.settings.default_locale)
                    for n, text in enumerate(followup_texts(translator(locale), mine, locale, head=True)):
                        await notify(session, recipient=head, kind=OutboxKind.nudge,
                                     dedupe_key=f"bc-follow:{broadcast.id}:b{building_id}:{head.id}:{n}", text=text)
            await mark_followup_sent(session, broadcast.id, ctx.now)
        await session.commit()
