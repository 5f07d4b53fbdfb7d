"""What staff see of a running broadcast: the progress message edited in place
through the Bot API (with its pause / resume / cancel / refresh buttons), and
the final delivery report.

Rendering lives here (it needs the translations and Telegram's keyboards);
the numbers come from :mod:`bot.services.broadcasts`.  The follow-up lists of
unconfirmed notices are a service job (:mod:`bot.services.broadcasts.jobs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from sqlalchemy import or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.aio import wait_event
from bot.config import Settings
from bot.delivery.limits import LocalLimiter
from bot.delivery.quiet import in_quiet_hours, quiet_hours_end
from bot.i18n import PoI18n
from bot.services import broadcasts
from bot.services.bounds import Id
from bot.services.notify import notify
from models import Broadcast, BroadcastStatus, OutboxKind, User, utcnow

log = logging.getLogger(__name__)

PROGRESS_INTERVAL = 3.0
# Counting a broadcast's rows grows with its size (2 million rows: about 0.3 s of a
# core per count, twice per process and tick): a monitor waits this many times as
# long as its last tick took, so that it never spends more than a twentieth of the
# time counting, whatever the size.
TICK_COST_FACTOR = 20


class BcCtlCb(CallbackData, prefix="bcc"):
    """Pause / resume / cancel / refresh a running broadcast: the progress message's
    buttons, which ``handlers.broadcast`` answers."""

    action: str
    id: Id


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


def progress_text(p: broadcasts.Progress, now: datetime, settings: Settings) -> str:
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


def progress_keyboard(p: broadcasts.Progress) -> InlineKeyboardMarkup | None:
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


def report_text(p: broadcasts.Progress, now: datetime, tz: ZoneInfo) -> str:
    lines = [_("Delivery report for notice #{id}").format(id=p.id)]
    lines.append(_("Delivered: {sent} of {total}").format(sent=p.sent, total=p.total))
    counts = (
        (p.failed, _("Failed after retries: {n}")),
        (p.unreachable, _("Blocked the bot: {n} (please reach them in person)")),
        (p.unknown, _("Unknown (may or may not have arrived): {n}")),
        (p.cancelled, _("Not sent (cancelled): {n}")),
    )
    lines.extend(text.format(n=n) for n, text in counts if n)
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
            started = time.monotonic()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("broadcast monitor failed; retrying")
            await wait_event(stop, self.pause_after(time.monotonic() - started))

    def pause_after(self, spent: float) -> float:
        """Seconds to wait after a tick that took ``spent`` seconds."""
        return max(self.interval, spent * TICK_COST_FACTOR)

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
            finished = await broadcasts.finish_if_drained(session, broadcast_id, now)
            await session.commit()
            if session.bind.dialect.name == "postgresql":
                # The counts below are background work: one core, not parallel workers on
                # every core at once, which would stall the senders (and bunch their requests).
                await session.execute(sql_text("SET LOCAL max_parallel_workers_per_gather = 0"))
            broadcast = await session.get(Broadcast, broadcast_id)
            if broadcast is None:
                return
            p = await broadcasts.progress(session, broadcast_id, now, fallback_rate=self.rate,
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
            slot = await self.limiter.acquire()
            if not await self.limiter.admit(slot):
                return None  # stopping
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
