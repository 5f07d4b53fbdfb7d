"""Wake-ups between processes: PostgreSQL ``LISTEN/NOTIFY``, or Redis pub/sub with ``REDIS_URL``.

Several bot processes share one PostgreSQL database.  Without a signal, a
process waiting for another to finish an earlier update of the same chat
would have to ask the database again and again, and a process stopping would
hand its unfinished updates back to nobody in particular.  Here:

* ``chat``: a process that finished an update of a chat says so; one waiting
  for its turn in that chat looks again at once (:meth:`Wakeups.wait_chat`).
* ``released``: a stopping process handed its unfinished updates back; the
  others take them over at once instead of at their next lease upkeep.
* ``outbox``: rows were committed to the outbox; sender processes look at once.

A wake-up is only a hint to look again: the database stays the truth, and
every waiter still looks on its own every few seconds (the safety net when a
notification is lost, e.g. while the listening connection reconnects).
SQLite runs one process: no wake-ups (:func:`create_wakeups` returns None).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from bot.aio import bounded, wait_event

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 2.0
STOP_WAIT_SECONDS = 3.0  # how long stop() waits for its tasks to end after cancelling them
CHANNELS = ("chat", "released", "outbox")


class Wakeups:
    """One process's subscriptions and publications (see the module's docstring)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix  # channels are per bot: gridbot_<bot id>_<name>
        self._chat_waiters: dict[str, set[asyncio.Event]] = {}
        self._callbacks: dict[str, list[Callable[[str], None]]] = {name: [] for name in CHANNELS}
        self._outgoing: list[tuple[str, str]] = []
        self._send = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self.received = 0
        self.connected = asyncio.Event()

    def channel(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    # -- subscribing -----------------------------------------------------------
    def on(self, name: str, callback: Callable[[str], None]) -> None:
        """Call ``callback(payload)`` on every wake-up of ``name`` (``released``, ``outbox``)."""
        self._callbacks[name].append(callback)

    def serve(self, pipeline: Any) -> None:
        """Wire an :class:`bot.inbound.InboundPipeline` (``Any``: that module refers to this
        one): its chats' turns wait on wake-ups, and handed-back updates are taken at once."""
        pipeline.wakeups = self
        self.on("released", lambda owner: pipeline.look_again() if owner != pipeline.owner else None)

    @contextlib.contextmanager
    def chat_waiter(self, chat_id: int):  # type: ignore[no-untyped-def]
        """An event set whenever some process finished an update of ``chat_id``.  Register
        it *before* looking at the database, so a wake-up between the look and the wait
        is not lost."""
        event = asyncio.Event()
        key = str(chat_id)
        self._chat_waiters.setdefault(key, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._chat_waiters.get(key)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._chat_waiters[key]

    def _deliver(self, channel: str, payload: str) -> None:
        self.received += 1
        name = channel.removeprefix(self.prefix + "_")
        if name == "chat":
            for event in self._chat_waiters.get(payload, ()):
                event.set()
        for callback in self._callbacks.get(name, ()):
            try:
                callback(payload)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the others
                log.exception("wake-up listener failed")

    def _wake_everyone(self) -> None:
        """After a reconnection notifications may have been missed: everyone looks again."""
        for waiters in self._chat_waiters.values():
            for event in waiters:
                event.set()
        for name in ("released", "outbox"):
            for callback in self._callbacks[name]:
                with contextlib.suppress(Exception):
                    callback("")

    # -- publishing --------------------------------------------------------------
    def publish(self, name: str, payload: str = "") -> None:
        """Queue a wake-up; sent by a background task, in batches (never blocks the caller)."""
        if self._closing:
            return
        item = (self.channel(name), payload)
        if name != "chat" and item in self._outgoing:
            return  # the same hint is already on its way
        self._outgoing.append(item)
        self._send.set()

    def chat_done(self, chat_id: int) -> None:
        self.publish("chat", str(chat_id))

    async def flush(self) -> None:
        """Send what is queued now (used when stopping)."""
        if self._outgoing:
            batch, self._outgoing = self._outgoing, []
            await self._send_batch(batch)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._listen_forever(), name="wakeups-listen"),
                       asyncio.create_task(self._publish_forever(), name="wakeups-publish")]

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await bounded(self.flush(), 2)
        self._closing = True
        for task in self._tasks:
            task.cancel()
        # Bounded: a client library caught inside a read may not let the cancellation
        # through at once (then its task is left to the loop's end, not waited on forever).
        _done, stuck = await asyncio.wait(self._tasks, timeout=STOP_WAIT_SECONDS) if self._tasks else (set(), set())
        if stuck:
            log.warning("wake-ups: %d task(s) did not stop within %s s", len(stuck), STOP_WAIT_SECONDS)
        self._tasks = []
        await self._disconnect()

    async def _listen_forever(self) -> None:
        first = True
        while not self._closing:
            try:
                await self._connect([self.channel(name) for name in CHANNELS])
                self.connected.set()
                if not first:
                    self._wake_everyone()
                first = False
                await self._until_disconnected()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the database or Redis away: try again shortly
                log.warning("wake-ups: listening failed (%s: %s); the safety poll covers it",
                            type(exc).__name__, exc)
            self.connected.clear()
            with contextlib.suppress(Exception):
                await self._disconnect()
            await asyncio.sleep(RECONNECT_SECONDS)

    async def _publish_forever(self) -> None:
        while True:
            await self._send.wait()
            self._send.clear()
            if not self._outgoing:
                continue
            batch, self._outgoing = self._outgoing, []
            try:
                await self._send_batch(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a lost hint: the waiters' own polls cover it
                log.warning("wake-ups: publishing failed (%s)", type(exc).__name__)
                await asyncio.sleep(0.5)

    # -- the transport (PostgreSQL or Redis) -------------------------------------------
    async def _connect(self, channels: list[str]) -> None:
        raise NotImplementedError

    async def _until_disconnected(self) -> None:
        raise NotImplementedError

    async def _send_batch(self, batch: list[tuple[str, str]]) -> None:
        raise NotImplementedError

    async def _disconnect(self) -> None:
        raise NotImplementedError


class PostgresWakeups(Wakeups):
    """``LISTEN`` on a connection of its own; ``NOTIFY`` through a second one (asyncpg
    runs one statement at a time per connection, and the listener must stay free)."""

    def __init__(self, prefix: str, database_url: str) -> None:
        super().__init__(prefix)
        url = make_url(database_url).set(drivername="postgresql")
        self.dsn = url.render_as_string(hide_password=False)
        self._listener: Any = None
        self._sender: Any = None
        self._lost = asyncio.Event()

    async def _connect(self, channels: list[str]) -> None:
        # asyncpg itself, not SQLAlchemy: LISTEN needs the raw connection's callbacks.
        import asyncpg

        self._lost.clear()
        self._listener = await asyncpg.connect(self.dsn, timeout=10)
        self._listener.add_termination_listener(lambda _conn: self._lost.set())
        for channel in channels:
            await self._listener.add_listener(channel, self._on_notify)

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        self._deliver(channel, payload)

    async def _until_disconnected(self) -> None:
        while not self._lost.is_set():
            await wait_event(self._lost, 5)
            if self._listener is None or self._listener.is_closed():
                return
            # A connection cut without a FIN is only noticed when used.
            await bounded(self._listener.execute("SELECT 1"), 5)

    async def _send_batch(self, batch: list[tuple[str, str]]) -> None:
        # (see _connect: asyncpg itself)
        import asyncpg

        if self._sender is None or self._sender.is_closed():
            self._sender = await asyncpg.connect(self.dsn, timeout=10)
        try:
            await self._sender.execute(
                "SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS t(c, p)",
                [c for c, _ in batch], [p for _, p in batch])
        except Exception:
            with contextlib.suppress(Exception):
                await self._sender.close()
            self._sender = None
            raise

    async def _disconnect(self) -> None:
        for conn in (self._listener, self._sender):
            if conn is not None and not conn.is_closed():
                with contextlib.suppress(Exception):
                    await bounded(conn.close(), 2)
        self._listener = self._sender = None


class RedisWakeups(Wakeups):
    """Redis pub/sub: channels are global to a Redis server (not per database number),
    hence the bot id in their names."""

    def __init__(self, prefix: str, redis_url: str) -> None:
        super().__init__(prefix)
        self.redis_url = redis_url
        self._redis: Any = None
        self._pubsub: Any = None

    async def _connect(self, channels: list[str]) -> None:
        # Only with REDIS_URL: the client is loaded when there is a Redis.
        from redis.asyncio import Redis

        self._redis = Redis.from_url(self.redis_url, socket_connect_timeout=10)
        self._pubsub = self._redis.pubsub()
        await self._pubsub.subscribe(*channels)

    async def _until_disconnected(self) -> None:
        while True:  # one bounded read at a time (not listen()): a stop cancels it between reads
            message = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and message.get("type") == "message":
                channel, data = message["channel"], message["data"]
                self._deliver(channel.decode() if isinstance(channel, bytes) else channel,
                              data.decode() if isinstance(data, bytes) else str(data))

    async def _send_batch(self, batch: list[tuple[str, str]]) -> None:
        if self._redis is None:
            raise ConnectionError("not connected to Redis yet")
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, payload in batch:
                pipe.publish(channel, payload)
            await pipe.execute()

    async def _disconnect(self) -> None:
        pubsub, redis, self._pubsub, self._redis = self._pubsub, self._redis, None, None
        for closable in (pubsub, redis):
            if closable is not None:
                # Bounded: redis-py's pub/sub teardown waits for a lock a cancelled read may hold.
                with contextlib.suppress(Exception):
                    await bounded(closable.aclose(), 2)


class OutboxRelay:
    """Registered with :func:`bot.services.notify.listen_for_rows`: rows committed to the
    outbox in this process wake the senders of the other processes too."""

    def __init__(self, wakeups: Wakeups) -> None:
        self.wakeups = wakeups

    def wake(self) -> None:
        self.wakeups.publish("outbox")


def create_wakeups(database_url: str, redis_url: str | None, bot_id: int) -> Wakeups | None:
    """Redis pub/sub with ``REDIS_URL``, else PostgreSQL's LISTEN/NOTIFY; None on SQLite."""
    prefix = f"gridbot_{bot_id}"
    if redis_url:
        return RedisWakeups(prefix, redis_url)
    if make_url(database_url).get_backend_name() == "postgresql":
        return PostgresWakeups(prefix, database_url)
    return None
