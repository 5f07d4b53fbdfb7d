"""The organisation's routing table."""

from __future__ import annotations

from aiogram import F, Router

from handlers import labels, staff
from handlers.filters import HasRole
from handlers.org import heads, volunteers
from models import Role


def create_router() -> Router:
    """The heads' and volunteers' handlers; a grid head's invite button (staff's handler)."""
    router = Router(name="org")
    heads.register(router)
    volunteers.register(router)
    # Grid heads invite building and unit heads of their grid (bot.services.staff.INVITABLE);
    # the rest of the invite flow is buttons, which staff's router takes from anyone (the service checks).
    router.message.register(staff.invite_start, F.text == labels.INVITE, HasRole(Role.grid_head))
    return router
