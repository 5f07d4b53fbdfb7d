"""The one refusal path: a service's ``DomainError`` answered in one place.

Services refuse by raising :class:`bot.services.errors.DomainError` (not
allowed, gone, too late, bad input).  A handler simply lets it out:
:class:`RefusalMiddleware`, the innermost outer middleware of messages and
button presses, then

1. rolls the update's session back, so nothing the handler wrote since its
   last request to Telegram stays (conversation state in the database
   included); someone new is kept, though: their user row was written in
   the same transaction, before the handler ran, and is written again;
2. commits, which marks the stored update handled (``bot.middlewares``): a
   refused update is answered, not retried;
3. answers in the user's language: an alert for a button, a reply for a
   message.

A handler that must recover differently (keep the conversation where it is,
show a menu...) catches the error itself and says why.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher, Router
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.types import User as TgUser
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import telegram_locale
from bot.services import users
from bot.services.errors import DomainError
from handlers.appointments import ui as appointments_ui
from handlers.cases import ui as cases_ui
from handlers.consultations import ui as consultations_ui
from handlers.diary import ui as diary_ui
from handlers.events import ui as events_ui
from handlers.family import ui as family_ui
from handlers.org import ui as org_ui
from handlers.render import GENERAL_ERRORS, ErrorTexts, coded_text
from handlers.reports import ui as reports_ui

log = logging.getLogger(__name__)

# Each room's texts for its own codes, asked in this order; the first that knows the code answers.
_ROOMS: tuple[ErrorTexts, ...] = (
    cases_ui.ERRORS,
    appointments_ui.ERRORS,
    GENERAL_ERRORS,
    reports_ui.ERRORS,
    diary_ui.ERRORS,
    consultations_ui.ERRORS,
    family_ui.ERRORS,
    org_ui.ERRORS,
    events_ui.ERRORS,
)


def error_text(err: DomainError, first: ErrorTexts | None = None) -> str:
    """The localized text for any domain error (a generic one for an unknown code).

    ``first``: a room's own texts, asked before the others (the patrol diary
    words some codes, such as ``empty_text``, in its own way)."""
    for room in (first, *_ROOMS) if first is not None else _ROOMS:
        text = coded_text(err, room)
        if text is not None:
            return text
    return _("That did not work. Please try again.")


async def refuse(query: CallbackQuery, err: DomainError, first: ErrorTexts | None = None) -> None:
    """A refused press (not allowed, gone, too late): say why in an alert."""
    await query.answer(error_text(err, first), show_alert=True)


class RefusalMiddleware(BaseMiddleware):
    """Answers a ``DomainError`` that a message or button handler let out (see the module).

    One instance serves the whole dispatcher (:meth:`setup`); a room whose
    texts go first adds its own to its router (:meth:`setup_router`)."""

    def __init__(self, first: ErrorTexts | None = None) -> None:
        self.first = first

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        try:
            return await handler(event, data)
        except DomainError as err:
            session: AsyncSession | None = data.get("session")
            if session is not None:
                await session.rollback()
                session.expunge_all()  # objects of the undone transaction (the user, if new) are gone
                tg_user: TgUser | None = data.get("event_from_user")
                if tg_user is not None and not tg_user.is_bot:  # as UserMiddleware: the user stays known
                    await users.get_or_create_with_state(
                        session, telegram_id=tg_user.id, first_name=tg_user.first_name,
                        last_name=tg_user.last_name, username=tg_user.username,
                        locale=telegram_locale(tg_user.language_code))
                await session.commit()  # carries the update's done-mark
            log.info("refused %s: %s", type(event).__name__, err.code)
            if isinstance(event, CallbackQuery):
                await refuse(event, err, self.first)
            elif isinstance(event, Message):
                await event.answer(error_text(err, self.first))
            else:  # no one to answer: an error like any other
                raise
            return None

    def setup(self, dispatcher: Dispatcher) -> None:
        """Register after the locale middleware, so the answer is in the user's language."""
        dispatcher.message.outer_middleware(self)
        dispatcher.callback_query.outer_middleware(self)

    def setup_router(self, router: Router) -> None:
        """Answer the errors of this router's handlers (inner: after its filters matched)."""
        router.message.middleware(self)
        router.callback_query.middleware(self)
