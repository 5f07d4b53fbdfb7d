"""Appointments at service stations in chat (docs/appointments.md): residents book,
change and cancel; station staff see the agenda, attendance and closures."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    # Imported here, not at the top: rooms that this package's routers import (handlers.refusal,
    # handlers.keyboards) import its ui module, so importing the package must not load its routers.
    from handlers.appointments import resident, staff

    router = Router(name="appointments")
    router.include_routers(resident.create_router(), staff.create_router())
    return router
