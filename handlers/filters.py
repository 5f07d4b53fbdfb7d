"""Audience filters for routers.  They only route updates: the services
check permissions again on every action."""

from __future__ import annotations

from typing import Any

from aiogram.filters import BaseFilter
from aiogram.types import TelegramObject

from models import Role, User


class HasRole(BaseFilter):
    def __init__(self, *roles: Role) -> None:
        self.roles = set(roles)

    async def __call__(self, event: TelegramObject, user: User | None = None, **_: Any) -> bool:
        return user is not None and any(grant.role in self.roles for grant in user.roles)
