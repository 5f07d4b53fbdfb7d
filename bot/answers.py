"""Answers durable across a crash: what a handler sends is recorded with the update.

A handler's messages, edits, deletions and uploads are not sent while it runs:
the request layer (:class:`AnswerJournal`, the outermost middleware of the
bot's HTTP session) serializes each one and keeps it with the update.  The
transaction that marks the update done (``bot.middlewares``) writes them to
``outgoing_requests`` as well (an upload's files, their bytes, to
``outgoing_files``), so the effects, the done-mark and the answers are
committed together or not at all.  Once that commit is through, with no
transaction open (SQLite's write lock stays off the network), the answers go
out in order through the retrying, pacing layer (``bot.retry``); each one
Telegram answered is deleted from the table, the deletions riding on the next
update's commit (or a short one of their own when the bot is idle).

After a crash the table holds exactly what was recorded and not confirmed:
:meth:`AnswerJournal.recover` sends it at the next start, before any new
update is handled.  An answer is lost only if Telegram lost it; one is sent
twice only if it was in flight (or its confirmation not yet written) at the
moment of the kill.

Uploads (a report's chart and spreadsheets, the privacy export, a
consultation's chart, an appointment's .ics) are recorded like the rest, their
files' bytes with them, and go out in order with the chat's other answers as
the multipart form aiogram would send, the same bytes then or after a restart;
their rows go with the request's (``ON DELETE CASCADE``).  At most
:data:`MAX_RECORDED_UPLOAD` per request, Telegram's own limit for a bot's
upload: bigger (which Telegram refuses anyway), or a file given by URL (to
fetch it would hold the transaction across the network), and the upload is
sent at once, unrecorded, after what was deferred before it.

What a handler gets back from a deferred send is a placeholder without a
``message_id`` (reading one raises ``AttributeError``).  A handler that needs
the real message (to edit it later) sends with :func:`send_now` (see there
for what a crash around it does).  A button's answer is deferred like the
rest (the spinner stops when the handler is done); one after a restart is
too old for Telegram and its refusal is only logged.

A commit in the middle of a handler (its own ``session.commit()``, a
:func:`send_now`) marks the update done there: after a crash the update is
not handled again, so what the handler would have done after it is lost,
never repeated.  A request that is not an answer (a read such as getMe, a
chat action, a command list: :func:`send_aside`) and a handler's slow work
commit with ``bot.middlewares.commit_keep_pending`` instead: no answer is
recorded, the update stays pending, and a crash meanwhile has it handled again.

When an answer fails for good (retries exhausted, or Telegram refused it),
the failure is logged with the update id, the person is told "could not
complete that, please try again" in their language, and if the update
changed nothing but the conversation state, that state is put back as it was
(``bot.fsm_storage`` keeps what it was), so the step can simply be repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiogram.methods
from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramNetworkError,
)
from aiogram.fsm.storage.base import BaseStorage, StorageKey
from aiogram.methods import EditMessageReplyMarkup, EditMessageText, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import BufferedInputFile, FSInputFile, InlineKeyboardMarkup, InputFile, Message
from aiogram.utils.i18n import I18n
from sqlalchemy import (
    Delete,
    Insert,
    Update,
    and_,
    bindparam,
    delete,
    event,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session

from bot.aio import wait_event
from bot.http import Files, prepared_body, prepared_files, result_unused
from bot.middlewares import commit_keep_pending, current_session, keeps_pending
from bot.retry import OutcomeUnknown
from models import OutgoingFile, OutgoingRequest, utcnow
from models.direct import DirectStatement

log = logging.getLogger(__name__)


# Requests that change what a person sees: recorded and sent after the commit.  A
# button's answer too: sent at once it would need a commit first (no write lock
# across the network), which would mark the update done before the rest of the
# handler ran; a kill during it would lose all that follows.
_DEFERRED = ("send", "copyMessage", "forwardMessage", "editMessage", "deleteMessage", "answerCallbackQuery")
_AT_ONCE = frozenset({"sendChatAction"})
# Requests of the flush and of the recovery pass straight through.
_sending: ContextVar[bool] = ContextVar("answers_sending", default=False)
_want_result: ContextVar[bool] = ContextVar("answers_want_result", default=False)

_CONTEXT = "gridbot.answers"
_t = OutgoingRequest.__table__
_RECORD = DirectStatement(insert(_t).values(
    inbound_id=bindparam("inbound_id"), seq=bindparam("seq"), chat_id=bindparam("chat_id"),
    method=bindparam("method"), body=bindparam("body"), owner=bindparam("owner"),
    lease_until=bindparam("lease_until"), created_at=bindparam("created_at")))
# A request's files go with it (outgoing_files: ON DELETE CASCADE).
_CONFIRM = DirectStatement(delete(_t).where(_t.c.inbound_id == bindparam("i"), _t.c.seq == bindparam("s")))
_f = OutgoingFile.__table__
_RECORD_FILE = DirectStatement(insert(_f).values(
    inbound_id=bindparam("inbound_id"), seq=bindparam("seq"), name=bindparam("name"),
    filename=bindparam("filename"), data=bindparam("data")))
_FILES_OF = select(_f.c.name, _f.c.filename, _f.c.data).where(_f.c.inbound_id == bindparam("i"),
                                                              _f.c.seq == bindparam("s"))
# A recorded body that may point to files (a text that merely says it costs one query).
_ATTACH = '"attach://'
# Telegram's limit for a bot's upload (50 MB a document; a photo 10 MB): an upload
# over it is refused by Telegram anyway, and is not recorded (sent at once, as before).
MAX_RECORDED_UPLOAD = 50 * 1024 * 1024
# Tables whose writes are bookkeeping, not effects of a step (see UpdateAnswers.effects).
_BOOKKEEPING = frozenset({"fsm_records", "inbound_updates", "outgoing_requests", "outgoing_files"})


def deferrable(method: TelegramMethod[Any]) -> bool:
    name = method.__api_method__
    return name.startswith(_DEFERRED) and name not in _AT_ONCE


_PLACEHOLDERS: dict[Any, Any] = {}


def placeholder(method: TelegramMethod[Any]) -> Any:
    """What a deferred request gives back: True for an edit or a deletion, an
    empty object for a send (no ``message_id``: see :func:`send_now`).  One per
    type, built once: an empty Message costs pydantic a default for each of its
    hundred fields."""
    returning = method.__returning__
    empty = _PLACEHOLDERS.get(returning)
    if empty is None:
        construct = getattr(returning, "model_construct", None)
        empty = _PLACEHOLDERS[returning] = (
            True if returning is bool or bool in getattr(returning, "__args__", ())
            else construct() if construct is not None else ())  # an album: a tuple
    return empty


async def send_now(method: TelegramMethod[TelegramType]) -> TelegramType:
    """Send ``method`` (a handler's ``message.answer(...)`` not yet awaited) at
    once, after the answers deferred before it, and return Telegram's result.

    Durability: the request is recorded like any answer, then the update's
    transaction is committed (the handler's effects so far, the update's
    done-mark, the answers deferred before and this one) and only then are
    they sent, in order.  So:

    * a crash before that commit: nothing of it was sent; unless the handler
      had committed before, the update is not done and is handled again from
      the start at the next run (which sends it then, once);
    * a crash after the commit, before Telegram's answer to this request was
      written down: the next run's recovery sends what is still unconfirmed,
      this request included (it arrives twice only if Telegram had it before
      the kill: in flight, or answered and the deletion not yet written); the
      update is done and is not handled again, so a re-run never repeats it;
    * what the handler does after ``send_now`` (keeping the ``message_id``,
      more writes and answers) commits with its next commit: a crash before
      that loses it, and since the update is done it is not redone either.
      (The broadcast's progress message: it is sent, but the broadcast, which
      goes on, keeps no ``message_id`` to edit with its progress.)
    """
    token = _want_result.set(True)
    try:
        return await method
    finally:
        _want_result.reset(token)


async def send_aside(method: TelegramMethod[Any]) -> bool:
    """Send ``method``, not one of the update's answers (a button's "Preparing the report…",
    a chat's command list), at once, unrecorded, after a ``commit_keep_pending`` (see the
    module).  A re-run after a crash sends it again (a button's second answer, too old
    for Telegram, is only logged).  A failure is logged, not raised.  Whether it went."""
    session = current_session.get()
    if session is not None:
        await commit_keep_pending(session)
    token = _sending.set(True)  # past the journal: not deferred, not recorded
    try:
        await method
    except (TelegramAPIError, OSError, TimeoutError) as exc:  # OutcomeUnknown too (a TelegramNetworkError)
        log.info("a request aside (%s) was not sent: %s: %s", method.__api_method__, type(exc).__name__,
                 getattr(exc, "message", exc))
        return False
    finally:
        _sending.reset(token)
    return True


async def recordable_files(bot: Bot, files: dict[str, InputFile]) -> Files | None:
    """The bytes of an upload's files, to record with it; None when they are not at
    hand (a file at a URL: fetching it would hold the transaction across the
    network) or over :data:`MAX_RECORDED_UPLOAD` together."""
    found: Files = {}
    total = 0
    for name, file in files.items():
        if isinstance(file, BufferedInputFile):
            total += len(file.data)
            data = file.data
        elif isinstance(file, FSInputFile):  # read as aiogram would, given up once over the limit
            chunks = []
            async for chunk in file.read(bot):
                total += len(chunk)
                if total > MAX_RECORDED_UPLOAD:
                    return None
                chunks.append(chunk)
            data = b"".join(chunks)
        else:
            return None
        if total > MAX_RECORDED_UPLOAD:
            return None
        found[name] = (file.filename, data)
    return found


@dataclass(slots=True, eq=False)
class _Request:
    seq: int
    method: TelegramMethod[Any]
    body: str
    chat_id: int | None
    files: Files | None = None


@dataclass(slots=True, eq=False)
class UpdateAnswers:
    """The answers of one update, kept in its session's ``info``."""

    journal: AnswerJournal
    inbound_id: int
    update_id: int
    chat_id: int | None  # where an apology goes
    seq: int = 0
    uncommitted: list[_Request] = field(default_factory=list)
    committed: list[_Request] = field(default_factory=list)
    confirming: list[tuple[int, int]] = field(default_factory=list)  # deletions riding on this commit
    fsm_before: dict[StorageKey, tuple[str | None, dict[str, Any]]] = field(default_factory=dict)
    effects: bool = False  # wrote anything but its conversation state (and the bookkeeping)
    i18n: I18n | None = None
    locale: str | None = None
    # A button press: the message and its buttons as they were, to give them back.
    pressed: tuple[int, int, InlineKeyboardMarkup] | None = None

    def defer(self, method: TelegramMethod[Any], body: str, files: Files | None = None) -> None:
        self.seq += 1
        chat = getattr(method, "chat_id", None)
        self.uncommitted.append(_Request(self.seq, method, body, chat if isinstance(chat, int) else None, files))
        if self.i18n is None:
            self.i18n = I18n.get_current(no_error=True)
            self.locale = self.i18n.current_locale if self.i18n is not None else None


def answers_of(session: AsyncSession | Session | None) -> UpdateAnswers | None:
    if session is None:
        return None
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    return sync.info.get(_CONTEXT)  # type: ignore[no-any-return]


# -- the update's transaction ----------------------------------------------------
@event.listens_for(Session, "before_commit")
def _record(session: Session) -> None:
    """Write the deferred answers, and the confirmations waiting, into the commit."""
    ctx: UpdateAnswers | None = session.info.get(_CONTEXT)
    if ctx is None:
        return
    journal = ctx.journal
    # A commit that keeps the update pending records nothing: its answers wait for the final one.
    record = bool(ctx.uncommitted) and not keeps_pending(session)
    if not record and not journal.confirmed:
        return
    connection = session.connection()
    if record:
        now = utcnow()
        lease = now + journal.lease
        for r in ctx.uncommitted:
            _RECORD.run_sync(connection, {
                "inbound_id": ctx.inbound_id, "seq": r.seq, "chat_id": r.chat_id,
                "method": type(r.method).__name__, "body": r.body, "owner": journal.owner,
                "lease_until": lease, "created_at": now})
            for name, (filename, data) in (r.files or {}).items():
                _RECORD_FILE.run_sync(connection, {"inbound_id": ctx.inbound_id, "seq": r.seq, "name": name,
                                                   "filename": filename, "data": data})
    ctx.confirming = journal.take_confirmed()
    for inbound_id, seq in ctx.confirming:
        _CONFIRM.run_sync(connection, {"i": inbound_id, "s": seq})


@event.listens_for(Session, "after_commit")
def _recorded(session: Session) -> None:
    ctx: UpdateAnswers | None = session.info.get(_CONTEXT)
    if ctx is not None:
        if not keeps_pending(session):
            ctx.committed.extend(ctx.uncommitted)
            ctx.uncommitted.clear()
        ctx.confirming = []


@event.listens_for(Session, "after_soft_rollback")
def _not_recorded(session: Session, previous: Any) -> None:
    """Rolled back: the answers of the undone work are dropped with it (a refusal
    answers instead); confirmations that rode on it wait for the next commit.
    (A soft rollback: the event comes whether or not the transaction had reached
    the database yet, which a handler that only answered has not.)"""
    ctx: UpdateAnswers | None = session.info.get(_CONTEXT)
    if ctx is not None and not previous.nested:
        ctx.uncommitted.clear()
        if ctx.confirming:
            ctx.journal.confirmed.extend(ctx.confirming)
            ctx.confirming = []


@event.listens_for(Session, "before_flush")
def _note_orm_effects(session: Session, *_: Any) -> None:
    ctx: UpdateAnswers | None = session.info.get(_CONTEXT)
    if ctx is not None and (session.new or session.dirty or session.deleted):
        ctx.effects = True


@event.listens_for(Session, "do_orm_execute")
def _note_statement_effects(state: ORMExecuteState) -> None:
    ctx: UpdateAnswers | None = state.session.info.get(_CONTEXT)
    if ctx is None or ctx.effects or not isinstance(state.statement, Insert | Update | Delete):
        return
    table = getattr(state.statement.table, "name", None)
    # A first contact's user row is not a step's effect either.
    if table not in _BOOKKEEPING and not (table == "users" and isinstance(state.statement, Insert)):
        ctx.effects = True


def remember_state(key: StorageKey, state: str | None, data: dict[str, Any]) -> bool:
    """Called by the FSM storage before an update first changes ``key``: keep what
    it was, to put back if the update's answer fails.  False outside an update."""
    ctx = answers_of(current_session.get())
    if ctx is None:
        return False
    ctx.fsm_before.setdefault(key, (state, data))
    return True


def wants_state_kept(key: StorageKey) -> bool:
    """Whether the storage should read ``key``'s state before changing it."""
    ctx = answers_of(current_session.get())
    return ctx is not None and key not in ctx.fsm_before


# -- the request layer -------------------------------------------------------------
class AnswerJournal(BaseRequestMiddleware):
    """Defers, records and sends the answers of handlers (see the module)."""

    def __init__(self, *, owner: str = "", lease_seconds: float = 60.0, confirm_delay: float = 0.05) -> None:
        self.owner = owner
        self.lease = timedelta(seconds=lease_seconds)
        self.confirm_delay = confirm_delay
        self.sessionmaker: async_sessionmaker[AsyncSession] | None = None
        self.storage: BaseStorage | None = None
        self.shared = False
        self.confirmed: list[tuple[int, int]] = []  # answered, deletion not yet written
        self._wake = asyncio.Event()
        self._writing = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.replayed = 0
        # Chats whose recorded answers this process is sending again (recover): their next
        # update waits for them (bot/inbound.py).
        self._resending: dict[int | None, int] = defaultdict(int)
        self._claiming = 0  # claims in progress: which chats they take is not known yet

    def bind(self, sessionmaker: async_sessionmaker[AsyncSession], storage: BaseStorage | None, *,
             owner: str, shared: bool) -> None:
        self.sessionmaker, self.storage, self.owner, self.shared = sessionmaker, storage, owner, shared

    def begin(self, session: AsyncSession, inbound_id: int, update: Any, chat_id: int | None) -> UpdateAnswers:
        ctx = UpdateAnswers(self, inbound_id, getattr(update, "update_id", 0), chat_id)
        query = getattr(update, "callback_query", None)
        pressed = getattr(query, "message", None) if query is not None else None
        if isinstance(pressed, Message) and pressed.reply_markup is not None:
            ctx.pressed = (pressed.chat.id, pressed.message_id, pressed.reply_markup)
        session.sync_session.info[_CONTEXT] = ctx
        return ctx

    async def __call__(self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot,
                       method: TelegramMethod[TelegramType]) -> Any:
        session = current_session.get()
        if session is None or _sending.get():
            return await make_request(bot, method)
        ctx = answers_of(session)
        if ctx is not None and deferrable(method):
            files: Files | None = None
            body = bot.session.json_body(bot, method)  # type: ignore[attr-defined]
            if body is None:  # an upload: recorded with its bytes if they are at hand
                body, attached = bot.session.body_and_files(bot, method)  # type: ignore[attr-defined]
                files = await recordable_files(bot, attached)
                if files is None:
                    body = None
            if body is not None:
                if not session.in_transaction():  # the answer belongs to a transaction, to its rollback too
                    session.sync_session.begin()
                ctx.defer(method, bot.session.json_dumps(body), files)
                if not _want_result.get():
                    return placeholder(method)
                request = ctx.uncommitted[-1]
                await session.commit()
                results = await self.flush(bot, ctx, raise_for=request)
                return results[request.seq]
        # Sent at once: commit first (no lock held across the network).  A request that is
        # not an answer (a read such as getMe, a chat action) leaves the update pending: the
        # answers deferred so far wait for its final commit, and a crash meanwhile loses none.
        # An upload not recorded (its file at a URL, or too big) goes after those answers.
        if not deferrable(method):
            if session.in_transaction():
                await (commit_keep_pending(session) if ctx is not None else session.commit())
            return await make_request(bot, method)
        if session.in_transaction() or (ctx is not None and ctx.uncommitted):
            await session.commit()
        if ctx is not None and ctx.committed:
            await self.flush(bot, ctx)
        return await make_request(bot, method)

    # -- sending ---------------------------------------------------------------------
    async def flush(self, bot: Bot, ctx: UpdateAnswers, *, raise_for: _Request | None = None) -> dict[int, Any]:
        """Send the update's committed answers in order; returns their results by seq.

        A request that fails for good is logged with the update id; the rest of the
        update's answers are dropped (they would follow nothing) and the person gets
        the apology.  With ``raise_for``, that request's own failure is raised
        to the handler that asked for its result instead."""
        results: dict[int, Any] = {}
        pending, ctx.committed = ctx.committed, []
        failure: BaseException | None = None
        for i, r in enumerate(pending):
            if i or self._writing.locked():
                # Whatever Telegram has answered is on record before the next request
                # leaves: a kill can then repeat only the one in flight.
                await self.write_confirmed()
            try:
                results[r.seq] = await self._send(bot, r.method, r.body, r.files, result_wanted=r is raise_for)
            except BaseException as exc:
                failure = exc if await self._failed(bot, ctx.update_id, r, exc) else None
                if failure is None:
                    self.confirm(ctx.inbound_id, r.seq)
                    continue
                for rest in pending[i:]:
                    self.confirm(ctx.inbound_id, rest.seq)
                break
            self.sent += 1
            self.confirm(ctx.inbound_id, r.seq)
        if failure is not None:
            self.failed += 1
            if raise_for is not None and raise_for.seq not in results:
                raise failure
            await self._step_failed(bot, ctx)
        return results

    async def _send(self, bot: Bot, method: TelegramMethod[Any], body: str | None, files: Files | None = None,
                    *, result_wanted: bool = False) -> Any:
        """Send a recorded request; its result is made into objects only when ``result_wanted``
        (``send_now``'s caller reads it; the handler of any other answer got a placeholder)."""
        sending, prepared, attached = _sending.set(True), prepared_body.set(body), prepared_files.set(files)
        unused = result_unused.set(not result_wanted)
        try:
            return await bot(method)
        finally:
            result_unused.reset(unused)
            prepared_files.reset(attached)
            prepared_body.reset(prepared)
            _sending.reset(sending)

    async def _failed(self, bot: Bot, update_id: int | None, r: _Request, exc: BaseException) -> bool:
        """Handle one answer's failure; True if the update's answer failed for good."""
        name = r.method.__api_method__
        if isinstance(exc, TelegramBadRequest) and "message is not modified" in exc.message:
            return False  # a double click: the message already says it
        if isinstance(exc, TelegramBadRequest) and name == "answerCallbackQuery":
            log.info("update %s: a button's answer refused (%s)", update_id, exc.message)
            return False  # too old (answered after a restart): the spinner has stopped on its own
        if (isinstance(exc, TelegramBadRequest) and isinstance(r.method, EditMessageText)
                and r.method.chat_id is not None and r.method.message_id is not None):
            # The message is gone or too old to edit: show the text below instead.
            m = r.method
            try:
                await self._send(bot, SendMessage(chat_id=m.chat_id, text=m.text, parse_mode=m.parse_mode,
                                                  entities=m.entities, reply_markup=m.reply_markup,
                                                  link_preview_options=m.link_preview_options), None)
                return False
            except Exception as again:  # noqa: BLE001 - reported below like the first failure
                exc = again
        if isinstance(exc, TelegramForbiddenError):
            log.info("update %s: %s to chat %s refused (%s)", update_id, name, r.chat_id, exc.message)
            return False  # they blocked the bot: nobody to tell
        if isinstance(exc, OutcomeUnknown):
            return False  # it may well have arrived (bot.retry counted and logged it)
        if not isinstance(exc, TelegramAPIError | TelegramNetworkError | OSError | TimeoutError):
            raise exc
        log.warning("update %s: %s to chat %s failed for good: %s: %s", update_id, name, r.chat_id,
                    type(exc).__name__, getattr(exc, "message", exc))
        return True

    async def _step_failed(self, bot: Bot, ctx: UpdateAnswers) -> None:
        """The answer failed for good: put a conversation-only step back (the state,
        and the buttons of the message pressed), and say so."""
        if not ctx.effects and ctx.fsm_before and self.storage is not None:
            try:
                for key, (state, data) in ctx.fsm_before.items():
                    await self.storage.set_state(key, state)
                    await self.storage.set_data(key, data)
                if ctx.pressed is not None:
                    chat_id, message_id, markup = ctx.pressed
                    with contextlib.suppress(TelegramBadRequest):  # still there: "not modified"
                        await self._send(bot, EditMessageReplyMarkup(chat_id=chat_id, message_id=message_id,
                                                                     reply_markup=markup), None)
            except Exception:  # noqa: BLE001 - the apology still goes
                log.exception("update %s: could not put the conversation step back", ctx.update_id)
        if ctx.chat_id is None:
            return
        i18n = ctx.i18n or I18n.get_current(no_error=True)
        if i18n is None:  # no handler said anything in a language yet: the catalogue's own
            return
        text = i18n.gettext("Sorry, I could not complete that. Please try again.", locale=ctx.locale)
        try:
            await self._send(bot, SendMessage(chat_id=ctx.chat_id, text=text), None)
        except Exception as exc:  # noqa: BLE001 - Telegram is away: nothing more to do
            log.warning("update %s: the apology failed too: %s", ctx.update_id, exc)

    # -- confirmations -----------------------------------------------------------------
    def confirm(self, inbound_id: int, seq: int) -> None:
        self.confirmed.append((inbound_id, seq))
        self._wake.set()

    def take_confirmed(self) -> list[tuple[int, int]]:
        taken, self.confirmed = self.confirmed, []
        return taken

    async def write_confirmed(self) -> int:
        """Delete the confirmed rows in a short transaction of their own (one at a
        time: a flush waits for a write under way before its next request)."""
        async with self._writing:
            taken = self.take_confirmed()
            if not taken or self.sessionmaker is None:
                return 0
            try:
                async with self.sessionmaker() as session:
                    await session.execute(_CONFIRM.statement, [{"i": i, "s": s} for i, s in taken])
                    await session.commit()
            except BaseException:
                self.confirmed.extend(taken)
                raise
            return len(taken)

    async def _confirm_loop(self, bot: Bot) -> None:
        """When the bot is idle no update commit carries the confirmations: write
        them.  On a shared database, also renew this process's leases and send
        what a dead process left (a few times per lease)."""
        upkeep = self.lease.total_seconds() / 3
        next_upkeep = asyncio.get_running_loop().time() + upkeep
        while True:
            if self.shared:
                await wait_event(self._wake, max(0.0, next_upkeep - asyncio.get_running_loop().time()))
            else:
                await self._wake.wait()
            self._wake.clear()
            await asyncio.sleep(self.confirm_delay)  # most ride on an update's commit meanwhile
            try:
                await self.write_confirmed()
                if self.shared and asyncio.get_running_loop().time() >= next_upkeep:
                    next_upkeep = asyncio.get_running_loop().time() + upkeep
                    await self._renew()
                    await self.recover(bot, at_start=False)
            except Exception:  # noqa: BLE001 - the database briefly away: the next round retries
                log.exception("answers: could not write confirmations")
                await asyncio.sleep(1.0)
                self._wake.set()

    def start(self, bot: Bot) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._confirm_loop(bot), name="answers-confirm")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        try:
            await self.write_confirmed()
        except Exception:  # noqa: BLE001 - those few are sent again at the next start
            log.exception("answers: could not write the last confirmations")

    async def _renew(self) -> None:
        assert self.sessionmaker is not None
        async with self.sessionmaker() as session:
            await session.execute(update(_t).where(_t.c.owner == self.owner)
                                  .values(lease_until=utcnow() + self.lease))
            await session.commit()

    # -- after a crash -------------------------------------------------------------------
    def resending(self, chat_id: int | None) -> bool:
        """Is this process sending a dead run's recorded answers to ``chat_id`` right now?"""
        return self._claiming > 0 or self._resending.get(chat_id, 0) > 0

    async def recover(self, bot: Bot, *, at_start: bool = True, concurrency: int = 64,
                      chat_id: int | None = None) -> int:
        """Send what was recorded and never confirmed (this process's previous run's,
        or, on a shared database, a dead process's whose lease ran out), in order per
        chat; only ``chat_id``'s when given (its next update is waiting for them)."""
        assert self.sessionmaker is not None
        now = utcnow()
        claimable: Any = True
        if self.shared:
            expired = or_(_t.c.lease_until.is_(None), _t.c.lease_until < now)
            claimable = or_(expired, _t.c.owner == self.owner) if at_start else and_(expired, _t.c.owner != self.owner)
        if chat_id is not None:
            claimable = and_(claimable, _t.c.chat_id == chat_id)
        self._claiming += 1
        try:
            async with self.sessionmaker() as session:
                rows = (await session.execute(
                    update(_t).where(claimable).values(owner=self.owner, lease_until=now + self.lease)
                    .returning(_t.c.inbound_id, _t.c.seq, _t.c.chat_id, _t.c.method, _t.c.body))).all()
                await session.commit()
            by_chat: dict[int | None, list[Any]] = defaultdict(list)
            for row in sorted(rows, key=lambda r: (r.inbound_id, r.seq)):
                by_chat[row.chat_id].append(row)
            for chat in by_chat:  # the chats' next updates wait until these are sent
                self._resending[chat] += 1
        finally:
            self._claiming -= 1
        if not rows:
            return 0
        slots = asyncio.Semaphore(concurrency)

        unsent = set(by_chat)

        def sent(chat: int | None) -> None:
            if chat in unsent:
                unsent.discard(chat)
                self._resending[chat] -= 1
                if not self._resending[chat]:
                    del self._resending[chat]

        async def resend(chat: int | None, chat_rows: list[Any]) -> None:
            async with slots:
                for row in chat_rows:
                    await self._resend(bot, row)
            sent(chat)

        log.info("answers: sending %d recorded answers the last run did not confirm", len(rows))
        try:
            await asyncio.gather(*(resend(chat, chat_rows) for chat, chat_rows in by_chat.items()))
        finally:  # cancelled (a stop): no chat stays marked
            for chat in list(unsent):
                sent(chat)
        await self.write_confirmed()
        return len(rows)

    async def _resend(self, bot: Bot, row: Any) -> None:
        cls = getattr(aiogram.methods, row.method, None)
        if not (isinstance(cls, type) and issubclass(cls, TelegramMethod)):
            log.error("answers: update row %s: unknown method %r dropped", row.inbound_id, row.method)
        else:
            body = json.loads(row.body)
            method = cls.model_construct(**{k: v for k, v in body.items() if k in cls.model_fields})
            files = await self._files_of(row.inbound_id, row.seq) if _ATTACH in row.body else None
            r = _Request(row.seq, method, row.body, row.chat_id, files)
            try:
                await self._send(bot, method, row.body, files)
                self.replayed += 1
            except Exception as exc:  # noqa: BLE001 - each failure is logged; the rest go on
                if await self._failed(bot, None, r, exc):
                    self.failed += 1
        self.confirm(row.inbound_id, row.seq)

    async def _files_of(self, inbound_id: int, seq: int) -> Files | None:
        """The recorded files of an upload, read when it is sent again (not with the
        claim: a recovery of many uploads holds one chat's at a time)."""
        assert self.sessionmaker is not None
        async with self.sessionmaker() as session:
            rows = (await session.execute(_FILES_OF, {"i": inbound_id, "s": seq})).all()
        return {row.name: (row.filename, bytes(row.data)) for row in rows} or None
