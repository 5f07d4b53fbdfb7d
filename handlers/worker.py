"""Grid workers and grid heads."""

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


def grid_lines(summaries: list[staff_service.GridSummary]) -> list[str]:
    return [
        _("<b>{grid}</b> ({community})\nBuildings: {buildings} · Residents on the bot: {residents} · Workers: {workers}").format(
            grid=esc(s.grid), community=esc(s.community), buildings=s.buildings, residents=s.residents,
            workers=s.workers)
        for s in summaries
    ]


async def my_grid(message: Message, session: AsyncSession, user: User, i18n: PoI18n) -> None:
    summaries = await staff_service.my_grids(session, user, i18n.current_locale)
    await message.answer("\n\n".join(grid_lines(summaries)))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="worker")
    router.message.filter(HasRole(Role.worker, Role.grid_head))
    router.message.register(my_grid, F.text == labels.MY_GRID)
    return router
