"""Staff broadcasts in chat, and the recipients' side of them (docs/delivery.md)."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    # Imported here, not at the top: rooms that this package's routers import (handlers.refusal,
    # handlers.keyboards) import its ui module, so importing the package must not load its routers.
    from handlers.broadcast import router as broadcast_router

    return broadcast_router.create_router()
