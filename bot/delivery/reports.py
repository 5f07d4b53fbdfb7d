"""What staff see of a broadcast: the progress message edited in place, the
final delivery report, and the follow-up lists grid workers get for residents
who did not press "I have read it" within 24 hours.

Rendering lives here (it needs the translations and Telegram's keyboards);
the numbers come from :mod:`bot.services.broadcasts.notices`.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.config import Settings
from bot.delivery.limits import LocalLimiter
from bot.delivery.quiet import in_quiet_hours, quiet_hours_end
from bot.i18n import PoI18n, create_i18n
from bot.jobs import JobContext, recurring
from bot.services.broadcasts import notices as svc
from bot.services.notify import notify
from handlers.callbacks import BcCtlCb
from models import Broadcast, BroadcastStatus, OutboxKind, OutboxStatus, User, i18n_name, utcnow

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 3.0
FOLLOWUP_PER_MESSAGE = 40

_i18n_cache: dict[str, PoI18n] = {}


def shared_i18n(default_locale: str) -> PoI18n:
    """One compiled set of catalogues per process, for code outside a handler."""
    if default_locale not in _i18n_cache:
        _i18n_cache[default_locale] = create_i18n(default_locale)
    return _i18n_cache[default_locale]


@contextlib.contextmanager
def in_locale(i18n: PoI18n, locale: str) -> Iterator[None]:
    with i18n.context(), i18n.use_locale(locale):
        yield


def _when(moment: datetime, now: datetime, tz: ZoneInfo) -> str:
    local, today = moment.astimezone(tz), now.astimezone(tz)
    return local.strftime("%H:%M") if local.date() == today.date() else local.strftime("%Y-%m-%d %H:%M")


def held_until(scheduled_at: datetime | None, now: datetime, settings: Settings) -> datetime | None:
    """When quiet hours let a broadcast starting at ``scheduled_at`` (or now) go out, if they hold it."""
    start = max(now, scheduled_at or now)
    if not in_quiet_hours(start, settings.quiet_hours, settings.tz):
        return None
    return quiet_hours_end(start, settings.quiet_hours, settings.tz)


def progress_text(p: svc.Progress, now: datetime, settings: Settings) -> str:
    """The progress message, in the current locale."""
    tz = settings.tz
    if p.status == BroadcastStatus.done:
        head = _("📢 Notice #{id}: finished").format(id=p.id)
    elif p.status == BroadcastStatus.cancelled:
        head = _("📢 Notice #{id}: cancelled").format(id=p.id)
    elif p.status == BroadcastStatus.paused:
        head = _("📢 Notice #{id}: paused").format(id=p.id)
    elif p.scheduled_at is not None and p.scheduled_at > now:
        head = _("📢 Notice #{id}: scheduled for {when}").format(id=p.id, when=_when(p.scheduled_at, now, tz))
    else:
        head = _("📢 Notice #{id}: sending").format(id=p.id)
    lines = [
        head,
        _("Sent: {sent} of {total}").format(sent=p.sent, total=p.total),
        _("Failed: {failed}").format(failed=p.failed),
        _("Blocked the bot: {n}").format(n=p.unreachable),
    ]
    if p.status == BroadcastStatus.active and p.remaining and (hold := held_until(p.scheduled_at, now, settings)):
        lines.insert(1, _("🌙 Quiet hours: it goes out from {when}").format(when=_when(hold, now, tz)))
    if p.unknown:
        lines.append(_("Unknown (may or may not have arrived): {n}").format(n=p.unknown))
    if p.cancelled:
        lines.append(_("Not sent (cancelled): {n}").format(n=p.cancelled))
    if not p.finished:
        lines.append(_("Remaining: {n}").format(n=p.remaining))
        if p.estimated_finish is not None and p.status == BroadcastStatus.active:
            lines.append(_("Estimated finish: {when}").format(when=_when(p.estimated_finish, now, tz)))
    if p.ack_requested:
        lines.append(_("Confirmed as read: {n}").format(n=p.acks))
    return "\n".join(lines)


def progress_keyboard(p: svc.Progress) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    if p.status == BroadcastStatus.active:
        rows.append([InlineKeyboardButton(text=_("⏸ Pause"), callback_data=BcCtlCb(action="pause", id=p.id).pack())])
    elif p.status == BroadcastStatus.paused:
        rows.append([InlineKeyboardButton(text=_("▶️ Resume"), callback_data=BcCtlCb(action="resume", id=p.id).pack())])
    if not p.finished:
        rows.append([InlineKeyboardButton(text=_("✖️ Cancel the notice"),
                                          callback_data=BcCtlCb(action="cancel", id=p.id).pack())])
    rows.append([InlineKeyboardButton(text=_("🔄 Refresh"), callback_data=BcCtlCb(action="refresh", id=p.id).pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def report_text(p: svc.Progress, now: datetime, tz: ZoneInfo) -> str:
    lines = [_("Delivery report for notice #{id}").format(id=p.id)]
    lines.append(_("Delivered: {sent} of {total}").format(sent=p.sent, total=p.total))
    if p.failed:
        lines.append(_("Failed after retries: {n}").format(n=p.failed))
    if p.unreachable:
        lines.append(_("Blocked the bot: {n} (please reach them in person)").format(n=p.unreachable))
    if p.unknown:
        lines.append(_("Unknown (may or may not have arrived): {n}").format(n=p.unknown))
    if p.cancelled:
        lines.append(_("Not sent (cancelled): {n}").format(n=p.cancelled))
    if p.first_sent_at and p.last_sent_at:
        minutes = max(1, round((p.last_sent_at - p.first_sent_at).total_seconds() / 60))
        lines.append(_("Took about {minutes} min, finished {when}").format(
            minutes=minutes, when=_when(p.last_sent_at, now, tz)))
    return "\n".join(lines)


class BroadcastMonitor:
    """Edits each running broadcast's progress message and closes finished ones."""

    def __init__(self, bot: Bot, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings,
                 i18n: PoI18n, *, limiter: LocalLimiter | None = None, clock: Callable[[], datetime] = utcnow,
                 interval: float = PROGRESS_INTERVAL) -> None:
        self.bot = bot
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.i18n = i18n
        self.limiter = limiter
        self.clock = clock
        self.interval = interval
        self.rate = settings.delivery_paid_rate if settings.delivery_paid_broadcast else settings.delivery_global_rate

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcast monitor failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)

    async def tick(self) -> None:
        now = self.clock()
        async with self.sessionmaker() as session:
            # Running ones, and ones finished lately (their last numbers may still change).
            ids = list(await session.scalars(
                select(Broadcast.id).where(or_(
                    Broadcast.status.in_([BroadcastStatus.active, BroadcastStatus.paused]),
                    Broadcast.finished_at >= now - timedelta(minutes=5),
                )).order_by(Broadcast.id)))
        for broadcast_id in ids:
            await self.update(broadcast_id, now)

    async def update(self, broadcast_id: int, now: datetime) -> None:
        async with self.sessionmaker() as session:
            finished = await svc.finish_if_drained(session, broadcast_id, now)
            await session.commit()
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None:
                return
            p = await svc.progress(session, broadcast_id, now, fallback_rate=self.rate,
                                   not_before=held_until(broadcast.scheduled_at, now, self.settings))
            if broadcast.started_at is None and p.first_sent_at is not None:
                broadcast.started_at = p.first_sent_at
            with in_locale(self.i18n, broadcast.locale):
                text = progress_text(p, now, self.settings)
                markup = progress_keyboard(p)
                report = report_text(p, now, self.settings.tz) if finished else None
            if report is not None and broadcast.created_by_user_id is not None:
                creator = await session.get(User, broadcast.created_by_user_id)
                if creator is not None:
                    await notify(session, recipient=creator, kind=OutboxKind.digest,
                                 dedupe_key=f"bc-report:{broadcast_id}", text=report)
            await session.commit()  # no transaction stays open across the request below
            target = (broadcast.progress_chat_id, broadcast.progress_message_id)
            if text == broadcast.progress_text or target[1] is None:
                return
        shown = await self._edit(broadcast_id, target, text, markup)
        if shown is None:
            return
        async with self.sessionmaker() as session:
            values = {"progress_text": text} if shown else {"progress_message_id": None}
            await session.execute(update(Broadcast).where(Broadcast.id == broadcast_id).values(**values))
            await session.commit()

    async def _edit(self, broadcast_id: int, target: tuple[int | None, int | None], text: str,
                    markup: InlineKeyboardMarkup | None) -> bool | None:
        """True: shown; False: the message is gone; None: not now (try on a later tick)."""
        chat_id, message_id = target
        assert chat_id is not None and message_id is not None
        if self.limiter is not None:
            if self.limiter.is_paused():
                return None  # a 429 pause: no request at all
            await self.limiter.acquire()
        try:
            await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id, reply_markup=markup)
        except TelegramBadRequest as exc:
            if "not modified" in str(exc):
                return True
            log.info("progress message of broadcast %s is gone: %s", broadcast_id, exc)
            return False
        except TelegramAPIError as exc:
            log.info("editing progress of broadcast %s failed: %s", broadcast_id, exc)
            return None
        return True


# ------------------------------------------------------------- follow-ups

def followup_texts(item: svc.Followup, locale: str, tz: ZoneInfo) -> list[str]:
    """The list for one worker, in their language, split to fit Telegram messages."""
    grid = i18n_name(item.grid_names, locale, item.grid_code)
    notice = html.escape(_strip_tags(item.notice))[:120]
    states = {
        OutboxStatus.unreachable: _("blocked the bot"),
        OutboxStatus.failed: _("not delivered"),
        OutboxStatus.unknown: _("delivery unknown"),
        OutboxStatus.cancelled: _("not sent"),
    }
    lines = []
    for r in item.residents:
        line = f"• {html.escape(r.name)}, {html.escape(i18n_name(r.building_names, locale, r.building_code))}"
        if r.phone:
            line += f", {html.escape(r.phone)}"
        if r.delivery in states:
            line += f" ({states[r.delivery]})"
        lines.append(line)
    chunks = [lines[i:i + FOLLOWUP_PER_MESSAGE] for i in range(0, len(lines), FOLLOWUP_PER_MESSAGE)]
    head = _("These residents of {grid} have not confirmed notice #{id} after 24 hours. "
             "Please visit or call them:").format(grid=html.escape(grid), id=item.broadcast_id)
    out = []
    for n, chunk in enumerate(chunks, 1):
        part = f" ({n}/{len(chunks)})" if len(chunks) > 1 else ""
        out.append(f"{head}{part}\n<i>{notice}</i>\n\n" + "\n".join(chunk))
    return out


def _strip_tags(text: str) -> str:
    import re

    return html.unescape(re.sub(r"<[^>]+>", "", text or ""))


@recurring("broadcast_ack_followups", every=timedelta(minutes=15))
async def ack_followups(ctx: JobContext) -> None:
    """24 hours after an important notice: each grid's workers get the residents who did not confirm."""
    i18n = shared_i18n(ctx.settings.default_locale)
    async with ctx.sessionmaker() as session:
        for broadcast, items in await svc.due_followups(session, ctx.now):
            for item in items:
                for worker in item.workers:
                    locale = worker.locale or ctx.settings.default_locale
                    with in_locale(i18n, locale):
                        texts = followup_texts(item, locale, ctx.settings.tz)
                    for n, text in enumerate(texts):
                        await notify(session, recipient=worker, kind=OutboxKind.nudge,
                                     dedupe_key=f"bc-follow:{broadcast.id}:{item.grid_id}:{worker.id}:{n}",
                                     text=text)
            await svc.mark_followup_sent(session, broadcast.id, ctx.now)
        await session.commit()
