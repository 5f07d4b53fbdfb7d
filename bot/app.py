"""Application wiring: one factory builds the bot, dispatcher and pipeline.

Tests, the sandbox and ``python -m bot run`` all use :class:`GridBotApp`, so
they exercise the same code path as production.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.methods import Response
from aiogram.types import File, Message, Update, User
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import configure_mappers

from bot.aio import bounded
from bot.answers import AnswerJournal
from bot.chains import cache_outer_chain, direct_update_trigger
from bot.config import Settings
from bot.delivery import DeliveryRuntime
from bot.delivery.limits import ChatLimits
from bot.fsm_storage import create_storage
from bot.http import JsonAiohttpSession
from bot.i18n import PoI18n, UserLocaleMiddleware, create_i18n, locale_from_telegram
from bot.inbound import InboundPipeline
from bot.metrics import InboundObserver, Metrics, Probes, add_routes, start_server
from bot.middlewares import (
    CommitBeforeRequest,
    ConversationMiddleware,
    DbSessionMiddleware,
    UserMiddleware,
)
from bot.ratelimit import RateLimitMiddleware, UserRateLimiter
from bot.retry import RetryRequests
from bot.routing import compile_routing
from bot.services.notify import listen_for_rows, stop_listening
from bot.wakeup import OutboxRelay, Wakeups, create_wakeups
from handlers.commands import publish_default_commands
from handlers.labels import TypedLabels
from handlers.refusal import RefusalMiddleware
from handlers.routers import get_routers
from models import DeploymentState, utcnow
from models.database import create_engine, create_sessionmaker

log = logging.getLogger(__name__)

ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]

# aiogram parametrises ``Response[T]`` for every answer it parses; pydantic
# keeps such generic classes only weakly, so under load they were collected
# and rebuilt (about half a millisecond each). Holding the common ones keeps
# them cached for the life of the process.
_RESPONSE_TYPES = (
    Response[Message], Response[bool], Response[list[Update]], Response[User], Response[File],
    Response[Message | bool],
)


def create_bot(settings: Settings, token: str | None = None, answers: AnswerJournal | None = None) -> Bot:
    """The bot and its HTTP session.  With ``answers`` (the bot of GridBotApp) the
    answers of handlers are deferred and recorded (bot/answers.py); without, each
    request commits the update's session first (the delivery engine's own bot)."""
    session = JsonAiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_url))
    session.middleware(answers if answers is not None else CommitBeforeRequest())
    session.middleware(RetryRequests(max_attempts=settings.answer_max_attempts, backoff_base=settings.answer_backoff_base,
                                     backoff_max=settings.answer_backoff_max, max_wait=settings.answer_max_wait,
                                     chats=ChatLimits(settings.answer_chat_rate, settings.answer_group_rate)))
    return Bot(
        token or settings.require_token(),
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML, link_preview_is_disabled=True),
    )


def create_dispatcher(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], i18n: PoI18n,
    answers: AnswerJournal | None = None,
) -> Dispatcher:
    # aiogram would put its FSM middleware first; it goes after the session
    # (the state is read in the update's own transaction) and after the user
    # lookup (which reads the state in the same statement).
    dp = Dispatcher(
        storage=create_storage(settings.redis_url, sessionmaker), disable_fsm=True, settings=settings, i18n=i18n
    )
    dp.update.outer_middleware(DbSessionMiddleware(sessionmaker, answers))
    dp.fsm = ConversationMiddleware.replacing(dp.fsm)  # aiogram's, less what UserMiddleware did already
    dp.update.outer_middleware(UserMiddleware(dp.fsm))
    dp.update.outer_middleware(dp.fsm)
    UserLocaleMiddleware(i18n).setup(dp)
    dp.message.outer_middleware(TypedLabels())  # "发送" typed for ✅ 发送: the tap (handlers/labels.py)
    # After the language is known, before any router: see bot/ratelimit.py.
    RateLimitMiddleware(UserRateLimiter(settings.user_rate_per_minute, settings.user_burst)).setup(dp)
    RefusalMiddleware().setup(dp)  # innermost: a refusal is answered in the user's language
    dp.include_routers(*get_routers())
    compile_routing(dp)  # aiogram's routing decisions, walked cheaply (bot/routing.py)
    cache_outer_chain(dp.update)  # the update's middlewares wrapped once, not per update (bot/chains.py)
    direct_update_trigger(dp)
    return dp


@dataclass
class GridBotApp:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    bot: Bot
    dp: Dispatcher
    i18n: PoI18n
    pipeline: InboundPipeline
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    delivery: DeliveryRuntime | None = None
    metrics: Metrics = field(default_factory=Metrics)
    observer: InboundObserver | None = None
    probes: Probes | None = None
    _metrics_server: web.AppRunner | None = None
    wakeups: Wakeups | None = None
    _outbox_relay: OutboxRelay | None = None
    answers: AnswerJournal | None = None

    @classmethod
    def create(cls, settings: Settings, *, token: str | None = None, engine: AsyncEngine | None = None,
               durable_answers: bool = True) -> GridBotApp:
        """``durable_answers=False`` sends each answer as the handler makes it, after
        committing (what the bot did before bot/answers.py): for measuring its cost only."""
        # The ORM configures every mapper (relationships, loaders) at the first statement
        # that needs one; the user lookup and the answers bypass the ORM, so that came in
        # the middle of the first updates (py-spy: 0.39 s on a loaded 2-core VM). Now at start.
        configure_mappers()
        engine = engine or create_engine(settings.database_url)
        sessionmaker = create_sessionmaker(engine)
        i18n = create_i18n(settings.default_locale)
        # The answers a process recorded are leased as its updates are (renewed a few times a
        # lease): a process that dies holds its chats' next answers no longer than its updates.
        answers = AnswerJournal(lease_seconds=settings.inbound_lease_seconds) if durable_answers else None
        bot = create_bot(settings, token, answers)
        dp = create_dispatcher(settings, sessionmaker, i18n, answers)
        app = cls(settings, engine, sessionmaker, bot, dp, i18n, None, answers=answers)  # type: ignore[arg-type]
        app.observer = InboundObserver(app.metrics, settings)
        app.pipeline = InboundPipeline(
            bot=bot,
            dispatcher=dp,
            sessionmaker=sessionmaker,
            max_attempts=settings.inbound_max_attempts,
            on_failed=app._failed,
            owner=settings.instance_name,
            lease_seconds=settings.inbound_lease_seconds,
            observer=app.observer,
            answers=answers,
        )
        app.probes = Probes(app.metrics, engine, settings, queue_depths=app.pipeline.queue_depths)
        if answers is not None:
            answers.bind(sessionmaker, dp.storage, owner=app.pipeline.owner, shared=app.pipeline.shared)
        return app

    async def _failed(self, update: Update, exc: BaseException) -> None:
        if self.observer is not None:
            self.observer.failed(update.update_id)
        await self._apologise(update, exc)

    async def _apologise(self, update: Update, exc: BaseException) -> None:
        """Tell the user their last action failed, in their language."""
        event = update.event
        tg_user = getattr(event, "from_user", None)
        if tg_user is None:
            return
        locale = locale_from_telegram(tg_user.language_code, self.settings.default_locale)
        text = self.i18n.gettext("Sorry, something went wrong. Please try again.", locale=locale)
        await self.bot.send_message(tg_user.id, text)

    async def prepare(self) -> None:
        """Check the token, publish commands, queue unfinished updates."""
        me = await self.bot.get_me()
        log.info("running as @%s (id %s)", me.username, me.id)
        await publish_default_commands(self.bot, self.i18n)
        await self.start_wakeups()
        if self.answers is not None:
            # What the last run recorded and never confirmed goes before anything new.
            await self.answers.recover(self.bot)
            self.answers.start(self.bot)
        await self.pipeline.start()

    async def start_wakeups(self) -> None:
        """Several processes on PostgreSQL (or Redis): wake each other instead of polling."""
        if self.wakeups is not None or not self.pipeline.shared:
            return
        self.wakeups = wakeups = create_wakeups(self.settings.database_url, self.settings.redis_url, self.bot.id)
        if wakeups is None:
            return
        wakeups.serve(self.pipeline)
        wakeups.on("outbox", lambda _payload: self._wake_sender())
        self._outbox_relay = OutboxRelay(wakeups)
        listen_for_rows(self._outbox_relay)
        await wakeups.start()

    def _wake_sender(self) -> None:
        if self.delivery is not None and self.delivery.sender is not None:
            self.delivery.sender.wake()

    async def start_metrics_server(self) -> None:
        """/healthz, /readyz and /metrics on METRICS_PORT, when it is set."""
        if self.settings.metrics_port and self._metrics_server is None and self.probes is not None:
            self._metrics_server = await start_server(self.probes, self.settings.metrics_host,
                                                      self.settings.metrics_port)

    async def run_polling(self) -> None:
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.prepare()
        self.start_delivery()
        await self.start_metrics_server()
        await self.pipeline.poll(self._stop, allowed_updates=ALLOWED_UPDATES)

    def webhook_app(self, path: str = "/webhook") -> web.Application:
        # Closed by default: no webhook without its secret (ConfigError otherwise).
        secret = self.settings.require_webhook_secret()
        assert secret is not None, "webhook_app() without WEBHOOK_URL"
        expected = secret.encode()

        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "").encode("utf-8", "surrogateescape")
            # Constant time: the comparison takes as long whatever prefix matches.
            if not hmac.compare_digest(given, expected):
                return web.Response(status=401)
            try:
                payload = await request.json()
            except ValueError:
                return web.Response(status=400)
            if not isinstance(payload, dict) or "update_id" not in payload:
                return web.Response(status=400)
            # 200 only once the update is committed: if this fails Telegram retries.
            await self.pipeline.feed_raw([payload])
            return web.Response()

        app = web.Application()
        app.router.add_post(path, receive)
        if self.probes is not None:
            add_routes(app, self.probes)  # /healthz, /readyz, /metrics: keep them off the public proxy
        return app

    async def run_webhook(self) -> None:
        url = self.settings.webhook_url
        assert url is not None
        path = urlsplit(url).path or "/webhook"
        await self.prepare()
        self.start_delivery()
        await self.start_metrics_server()
        # Stopping, a request still storing its update gets the grace, then its connection is
        # dropped: it was never answered 200, so Telegram sends it again (to another process).
        runner = web.AppRunner(self.webhook_app(path), shutdown_timeout=self.settings.shutdown_grace_seconds)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.webhook_listen_host, self.settings.webhook_listen_port)
        await site.start()
        await self.set_webhook_once(url, self.settings.require_webhook_secret() or "")
        log.info("webhook listening on %s:%s%s", self.settings.webhook_listen_host,
                 self.settings.webhook_listen_port, path)
        try:
            await self._stop.wait()
        finally:
            log.info("stopping: the webhook takes no more updates")
            await runner.cleanup()

    async def set_webhook_once(self, url: str, secret: str) -> bool:
        """``setWebhook``, by one process of a deployment and only when something changed.

        The processes take turns on the ``deployment_state`` row ``webhook`` (a row lock
        on PostgreSQL); the one holding it compares a digest of (URL, secret, update
        types) with the one stored by the last process that set it, and what Telegram
        reports (``getWebhookInfo``: someone may have deleted it).  True if it set it."""
        digest = hashlib.sha256("\n".join([url, secret, *ALLOWED_UPDATES]).encode()).hexdigest()
        now = utcnow()
        row = DeploymentState.__table__
        async with self.sessionmaker() as session:
            shared = session.bind.dialect.name == "postgresql"
            insert = pg_insert if shared else sqlite_insert
            query = select(row.c.value).where(row.c.name == "webhook")
            if shared:  # the others wait on the row lock until this process has decided
                await session.execute(insert(row).values(name="webhook", value="", updated_at=now)
                                      .on_conflict_do_nothing(index_elements=["name"]))
                query = query.with_for_update()
            stored = await session.scalar(query)
            if not shared:
                await session.commit()  # SQLite: one process; no write lock held across the network
            info = await self.bot.get_webhook_info()
            if stored == digest and info.url == url and sorted(info.allowed_updates or []) == sorted(ALLOWED_UPDATES):
                await session.commit()
                log.info("webhook already set to %s by another process", url)
                return False
            await self.bot.set_webhook(url, secret_token=secret, allowed_updates=ALLOWED_UPDATES)
            upsert = insert(row).values(name="webhook", value=digest, updated_at=now)
            await session.execute(upsert.on_conflict_do_update(index_elements=["name"],
                                                               set_={"value": digest, "updated_at": now}))
            await session.commit()
        log.info("webhook set to %s", url)
        return True

    async def run(self) -> None:
        if self.settings.webhook_url:
            await self.run_webhook()
        else:
            await self.run_polling()

    def request_stop(self) -> None:
        self._stop.set()

    def start_delivery(self) -> None:
        """Start the outbox sender, the recurring-job scheduler and the broadcast monitor."""
        if self.delivery is None:
            self.delivery = DeliveryRuntime(self.bot, self.sessionmaker, self.settings, self.i18n,
                                            metrics=self.metrics)
            self.delivery.start()

    async def close(self) -> None:
        """Stop gracefully: no new updates (the polling loop or the webhook has ended), the
        updates in hand finish within SHUTDOWN_GRACE_SECONDS and the rest is handed back
        (leases released on PostgreSQL), then the delivery engine records what it sent."""
        self._stop.set()
        deadline = asyncio.get_running_loop().time() + self.settings.shutdown_grace_seconds
        await self.pipeline.stop(timeout=self.settings.shutdown_grace_seconds)
        log.info("stopping: updates in hand finished or handed back")
        if self.answers is not None:
            await self.answers.stop()
        if self.delivery is not None:
            await self.delivery.stop(timeout=max(1.0, deadline - asyncio.get_running_loop().time()))
        if self.wakeups is not None:
            if self._outbox_relay is not None:
                stop_listening(self._outbox_relay)
            try:  # after the pipeline: its "released" goes out first
                await bounded(self.wakeups.stop(), 5)
            except TimeoutError:
                log.warning("stopping: the wake-up connections did not close in time")
        if self._metrics_server is not None:
            await self._metrics_server.cleanup()
        if self.probes is not None:
            await self.probes.close()
        await self.dp.storage.close()
        await self.bot.session.close()
        await self.engine.dispose()
        log.info("stopped")
