"""The one refusal path: a DomainError a handler lets out is answered in one
place, after the session is rolled back, and its update is still marked done."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram.methods import AnswerCallbackQuery, SendMessage, TelegramMethod
from aiogram.types import CallbackQuery, Chat, Message
from aiogram.types import User as TgUser
from sqlalchemy import select

from bot.i18n import create_i18n
from bot.middlewares import DbSessionMiddleware, UserMiddleware
from bot.services.errors import DomainError, InvalidInput, NotAllowed
from handlers.diary import ui as diary_ui
from handlers.refusal import RefusalMiddleware, error_text
from handlers.render import coded_text
from models import InboundStatus, InboundUpdate, User
from tests.factories import pending_inbound


class RecordingBot:
    """Stands in for aiogram's Bot: keeps every request instead of sending it."""

    def __init__(self) -> None:
        self.requests: list[TelegramMethod[Any]] = []

    async def __call__(self, method: TelegramMethod[Any], request_timeout: int | None = None) -> bool:
        self.requests.append(method)
        return True


def _message(bot: RecordingBot) -> Message:
    return Message(message_id=10, date=datetime.now(UTC), chat=Chat(id=501, type="private"),
                   from_user=TgUser(id=501, is_bot=False, first_name="王"), text="12-40").as_(bot)


def _press(bot: RecordingBot) -> CallbackQuery:
    return CallbackQuery(id="cb1", chat_instance="ci", data="forged:2**70",
                         from_user=TgUser(id=501, is_bot=False, first_name="王")).as_(bot)


async def _through_both(sessionmaker, refusal: RefusalMiddleware, handler, event, inbound_id: int):  # type: ignore[no-untyped-def]
    i18n = create_i18n("zh-Hans")

    async def inner(ev: Any, data: dict[str, Any]) -> Any:
        return await UserMiddleware()(lambda e, d: refusal(handler, e, d), ev, data)

    with i18n.context(), i18n.use_locale("zh-Hans"):
        return await DbSessionMiddleware(sessionmaker)(inner, event, {"inbound_id": inbound_id,
                                                                      "event_from_user": event.from_user})


async def test_a_refused_message_is_rolled_back_answered_and_done(sessionmaker):
    bot, row_id = RecordingBot(), await pending_inbound(sessionmaker, 1)

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        data["user"].phone = "13800000000"
        data["session"].add(User(telegram_id=502, first_name="李"))
        await data["session"].flush()  # written, then refused: none of it may stay
        raise InvalidInput("bad_date")

    assert await _through_both(sessionmaker, RefusalMiddleware(), handler, _message(bot), row_id) is None
    async with sessionmaker() as s:
        assert await s.scalar(select(User.id).where(User.telegram_id == 502)) is None
        # Someone new stays known (their row was written before the handler ran), as they were.
        assert (await s.execute(select(User.first_name, User.phone).where(User.telegram_id == 501))).one() == ("王", None)
        row = await s.get(InboundUpdate, row_id)
        assert row.status == InboundStatus.done and row.processed_at is not None
    (reply,) = bot.requests
    assert isinstance(reply, SendMessage) and reply.chat_id == 501
    with create_i18n("zh-Hans").context() as i18n, i18n.use_locale("zh-Hans"):
        expected = error_text(InvalidInput("bad_date"))
    assert reply.text == expected and reply.text != "That did not work. Please try again."


async def test_a_refused_button_gets_an_alert_in_the_users_language(sessionmaker):
    bot, row_id = RecordingBot(), await pending_inbound(sessionmaker, 2)

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        raise NotAllowed()

    await _through_both(sessionmaker, RefusalMiddleware(), handler, _press(bot), row_id)
    (alert,) = bot.requests
    assert isinstance(alert, AnswerCallbackQuery) and alert.show_alert is True
    assert alert.text == "您没有权限进行这个操作。"
    async with sessionmaker() as s:
        assert (await s.get(InboundUpdate, row_id)).status == InboundStatus.done


async def test_a_room_can_word_a_shared_code_first(sessionmaker):
    bot, row_id = RecordingBot(), await pending_inbound(sessionmaker, 3)
    err = DomainError("building")  # the diary: "not in your grid"; elsewhere: "no longer available"

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        raise err

    await _through_both(sessionmaker, RefusalMiddleware(first=diary_ui.ERRORS), handler, _message(bot), row_id)
    with create_i18n("zh-Hans").context() as i18n, i18n.use_locale("zh-Hans"):
        diary_words, general_words = coded_text(err, diary_ui.ERRORS), error_text(err)
    assert diary_words is not None and diary_words != general_words
    assert bot.requests[0].text == diary_words


async def test_other_errors_pass_through_and_leave_the_updatepending_inbound(sessionmaker):
    bot, row_id = RecordingBot(), await pending_inbound(sessionmaker, 4)

    async def handler(event: Any, data: dict[str, Any]) -> None:  # noqa: ARG001
        raise RuntimeError("handler bug")

    try:
        await _through_both(sessionmaker, RefusalMiddleware(), handler, _message(bot), row_id)
    except RuntimeError:
        pass
    else:
        raise AssertionError("a bug must not be answered as a refusal")
    assert bot.requests == []
    async with sessionmaker() as s:
        assert (await s.get(InboundUpdate, row_id)).status == InboundStatus.pending
