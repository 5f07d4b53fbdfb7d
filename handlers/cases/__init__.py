"""The case loop in chat (docs/cases.md): residents' intake and their cases, workers'
inbox and cards, departments, staff; the free-message intake router goes last."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    """Residents', workers', departments' and staff's routers, in this order."""
    # Imported here, not at the top: rooms that this package's routers import (handlers.refusal,
    # handlers.keyboards) import its ui module, so importing the package must not load its routers.
    from handlers.cases import department, resident, staff, worker

    router = Router(name="cases")
    router.include_routers(resident.create_router(), worker.create_router(), department.create_router(),
                           staff.create_router())
    return router


def create_intake_router() -> Router:
    """A resident's free message at the menu becomes a case: included just before the fallback."""
    from handlers.cases import menu  # see create_router

    return menu.create_router()
