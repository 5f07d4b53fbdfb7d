"""Deferred answers (bot/answers.py): recorded with the update's done-mark,
dropped with a rollback, deleted once confirmed (riding on the next commit)."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.methods import DeleteMessage, EditMessageText, SendMessage
from aiogram.types import BufferedInputFile, FSInputFile, URLInputFile
from sqlalchemy import select

from bot import answers
from bot.answers import AnswerJournal, placeholder, recordable_files
from bot.middlewares import DbSessionMiddleware, commit_keep_pending, current_session
from models import InboundStatus, InboundUpdate, OutgoingRequest
from tests.factories import pending_inbound


class _Session:
    """What the journal asks of the bot's HTTP session when it defers."""

    @staticmethod
    def json_body(bot: Any, method: Any) -> dict[str, Any]:  # noqa: ARG004
        return method.model_dump(include={"chat_id", "message_id", "text"}, exclude_none=True)

    @staticmethod
    def json_dumps(body: dict[str, Any]) -> str:
        import json  # only here: the test's own serializer

        return json.dumps(body)


class _Bot:
    session = _Session()


async def _defer(journal: AnswerJournal, method: Any) -> Any:
    async def never(bot: Any, m: Any) -> Any:  # noqa: ARG001
        raise AssertionError("a deferred answer must not be sent while the handler runs")

    return await journal(never, _Bot(), method)  # type: ignore[arg-type]


async def _recorded(sessionmaker) -> list[tuple[int, int, str]]:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        return [tuple(r) for r in (await s.execute(
            select(OutgoingRequest.inbound_id, OutgoingRequest.seq, OutgoingRequest.method)
            .order_by(OutgoingRequest.inbound_id, OutgoingRequest.seq))).all()]


def _journal_sending_into(sent: list[str], sessionmaker) -> AnswerJournal:  # type: ignore[no-untyped-def]
    """A journal whose flush only notes the texts of the committed answers in ``sent``."""
    journal = AnswerJournal(owner="test")
    journal.bind(sessionmaker, None, owner="test", shared=False)

    async def flush(bot: Any, ctx: Any, **_: Any) -> dict[int, Any]:  # noqa: ARG001
        sent.extend(r.method.text for r in ctx.committed)
        ctx.committed = []
        return {}

    journal.flush = flush  # type: ignore[method-assign]
    return journal


def test_a_deferred_send_gives_back_no_message_id():
    sent = placeholder(SendMessage(chat_id=1, text="hi"))
    with pytest.raises(AttributeError):
        _ = sent.message_id  # a handler that needs it sends with bot.answers.send_now
    assert placeholder(EditMessageText(chat_id=1, message_id=2, text="x")) is True
    assert placeholder(DeleteMessage(chat_id=1, message_id=2)) is True


async def test_an_uploads_files_are_recorded_when_at_hand_and_within_telegrams_limit(tmp_path, monkeypatch):
    on_disk = tmp_path / "report.csv"
    on_disk.write_bytes(b"a,b\n1,2\n")
    files = {"k1": BufferedInputFile(b"\x89PNG chart", "chart.png"), "k2": FSInputFile(on_disk)}
    assert await recordable_files(_Bot(), files) == {  # type: ignore[arg-type]
        "k1": ("chart.png", b"\x89PNG chart"), "k2": ("report.csv", b"a,b\n1,2\n")}
    # A file at a URL is not fetched inside the transaction: the upload goes at once.
    assert await recordable_files(_Bot(), {"k": URLInputFile("https://example.org/x.png")}) is None  # type: ignore[arg-type]
    monkeypatch.setattr(answers, "MAX_RECORDED_UPLOAD", 12)  # over the limit together: at once too
    assert await recordable_files(_Bot(), files) is None  # type: ignore[arg-type]
    assert await recordable_files(_Bot(), {"k": FSInputFile(on_disk)}) is not None  # type: ignore[arg-type]


async def test_answers_are_committed_with_the_done_mark_and_confirmed_later(sessionmaker):
    journal = AnswerJournal(owner="test")
    journal.bind(sessionmaker, None, owner="test", shared=False)
    flushed: list[list[int]] = []

    async def flush(bot: Any, ctx: Any, **_: Any) -> dict[int, Any]:  # the sending itself: e2e tests
        flushed.append([r.seq for r in ctx.committed])
        for r in ctx.committed:
            journal.confirm(ctx.inbound_id, r.seq)
        ctx.committed = []
        return {}

    journal.flush = flush  # type: ignore[method-assign]
    first, second = await pending_inbound(sessionmaker, 11), await pending_inbound(sessionmaker, 12)

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        session = data["session"]
        assert current_session.get() is session
        await _defer(journal, SendMessage(chat_id=5, text="one"))
        await _defer(journal, EditMessageText(chat_id=5, message_id=9, text="two"))
        # Seen from another session before the commit: nothing yet.
        assert await _recorded(sessionmaker) == []

    middleware = DbSessionMiddleware(sessionmaker, journal)
    await middleware(handler, object(), {"inbound_id": first, "bot": _Bot()})
    assert flushed == [[1, 2]]
    async with sessionmaker() as s:
        assert await s.scalar(select(InboundUpdate.status).where(InboundUpdate.id == first)) == InboundStatus.done
    # Confirmed in memory; the rows go with the next update's commit.
    assert await _recorded(sessionmaker) == [(first, 1, "SendMessage"), (first, 2, "EditMessageText")]
    assert journal.confirmed == [(first, 1), (first, 2)]

    async def quiet(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        await _defer(journal, SendMessage(chat_id=6, text="three"))

    await middleware(quiet, object(), {"inbound_id": second, "bot": _Bot()})
    assert journal.confirmed == [(second, 1)]
    assert await _recorded(sessionmaker) == [(second, 1, "SendMessage")]
    assert await journal.write_confirmed() == 1
    assert await _recorded(sessionmaker) == []


async def test_a_rollback_drops_the_answers_of_the_undone_work(sessionmaker):
    sent: list[str] = []
    journal = _journal_sending_into(sent, sessionmaker)
    row = await pending_inbound(sessionmaker, 13)
    journal.confirmed = [(999, 1)]  # rides on the commit below, after the rollback

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        session = data["session"]
        await _defer(journal, SendMessage(chat_id=5, text="undone"))
        await session.rollback()  # as a refusal does
        assert journal.confirmed == [(999, 1)]
        await _defer(journal, SendMessage(chat_id=5, text="the refusal"))

    await DbSessionMiddleware(sessionmaker, journal)(handler, object(), {"inbound_id": row, "bot": _Bot()})
    assert sent == ["the refusal"]
    assert await _recorded(sessionmaker) == [(row, 2, "SendMessage")]
    assert journal.confirmed == []  # written with the update's commit


async def test_a_commit_that_keeps_the_update_pending_records_no_answer(sessionmaker):
    """Before slow work (bot.middlewares.commit_keep_pending): the answers deferred so
    far are not recorded (the update, still pending, would be handled again after a
    crash and answer again); they go with the final commit, in order, with the
    done-mark.  Confirmations waiting ride on it."""
    sent: list[str] = []
    journal = _journal_sending_into(sent, sessionmaker)
    row = await pending_inbound(sessionmaker, 14)
    journal.confirmed = [(999, 1)]

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        session = data["session"]
        await _defer(journal, SendMessage(chat_id=5, text="summary"))
        await commit_keep_pending(session)
        assert await _recorded(sessionmaker) == []
        assert journal.confirmed == []  # written with it
        async with sessionmaker() as s:
            assert await s.scalar(select(InboundUpdate.status).where(InboundUpdate.id == row)) == InboundStatus.pending
        await _defer(journal, SendMessage(chat_id=5, text="files"))

    await DbSessionMiddleware(sessionmaker, journal)(handler, object(), {"inbound_id": row, "bot": _Bot()})
    assert sent == ["summary", "files"]
    assert await _recorded(sessionmaker) == [(row, 1, "SendMessage"), (row, 2, "SendMessage")]
    async with sessionmaker() as s:
        assert await s.scalar(select(InboundUpdate.status).where(InboundUpdate.id == row)) == InboundStatus.done


async def test_a_read_sent_at_once_leaves_the_update_pending_and_its_answers_unrecorded(sessionmaker):
    """A request that is not an answer (getMe, a chat action, a command list) goes at once,
    after a commit that frees the connection but keeps the update pending: killed while it
    is in flight, the process would leave the update to be handled again, and the answers
    deferred before it (not yet recorded) are not lost: they go with the final commit."""
    from aiogram.methods import GetMe, SendChatAction

    sent: list[str] = []
    journal = _journal_sending_into(sent, sessionmaker)
    row = await pending_inbound(sessionmaker, 15)
    at_once: list[str] = []

    async def telegram(bot: Any, method: Any) -> Any:  # noqa: ARG001
        at_once.append(method.__api_method__)
        async with sessionmaker() as s:  # the connection is free, the update still pending
            assert await s.scalar(select(InboundUpdate.status).where(InboundUpdate.id == row)) == InboundStatus.pending
        assert await _recorded(sessionmaker) == []
        return True

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        session = data["session"]
        await _defer(journal, SendMessage(chat_id=5, text="before"))
        await session.execute(select(InboundUpdate.id))  # a transaction open, as a handler's reads make
        await journal(telegram, _Bot(), GetMe())  # type: ignore[arg-type]
        await journal(telegram, _Bot(), SendChatAction(chat_id=5, action="typing"))  # type: ignore[arg-type]
        await _defer(journal, SendMessage(chat_id=5, text="after"))

    await DbSessionMiddleware(sessionmaker, journal)(handler, object(), {"inbound_id": row, "bot": _Bot()})
    assert at_once == ["getMe", "sendChatAction"]
    assert sent == ["before", "after"]
    assert await _recorded(sessionmaker) == [(row, 1, "SendMessage"), (row, 2, "SendMessage")]
    async with sessionmaker() as s:
        assert await s.scalar(select(InboundUpdate.status).where(InboundUpdate.id == row)) == InboundStatus.done
