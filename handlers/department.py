"""Department officers (城管, 司法, 公安...)."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import PoI18n
from bot.services import staff as staff_service
from handlers import labels
from handlers.filters import HasRole
from handlers.render import esc
from models import Role, User


async def my_department(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    departments = await staff_service.my_departments(session, user, i18n.current_locale)
    await message.answer("\n".join(
        _("<b>{name}</b>: officers on the bot {count}").format(name=esc(name), count=count)
        for name, count in departments))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="department")
    router.message.filter(HasRole(Role.department))
    router.message.register(my_department, F.text == labels.MY_DEPARTMENT)
    return router
