"""Audience filters for routers.  They only route updates: the services
check permissions again on every action."""

from __future__ import annotations

from typing import Any

from aiogram.filters import BaseFilter
from aiogram.types import TelegramObject

from bot.services import access
from models import Role, User


class UserFilter(BaseFilter):
    """A filter that answers from the update's user alone, without side effects:
    ``bot.routing`` asks :meth:`allows` directly, before aiogram's own check."""

    def allows(self, user: User | None) -> bool:
        raise NotImplementedError

    async def __call__(self, event: TelegramObject, user: User | None = None, **_: Any) -> bool:
        return self.allows(user)


class HasRole(UserFilter):
    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    def allows(self, user: User | None) -> bool:
        return access.has_role(user, self.roles)
