"""Audience filters for routers.  They only route updates: the services
check permissions again on every action."""

from __future__ import annotations

from typing import Any

from aiogram.filters import BaseFilter
from aiogram.types import TelegramObject

from bot.services import access
from models import Role, User


class HasRole(BaseFilter):
    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, event: TelegramObject, user: User | None = None, **_: Any) -> bool:
        return access.has_role(user, self.roles)
