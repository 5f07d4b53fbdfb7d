"""The patrol diary in chat (docs/diary.md)."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    # Imported here, not at the top: rooms that this package's routers import (handlers.refusal,
    # handlers.keyboards) import its ui module, so importing the package must not load its routers.
    from handlers.diary import router as diary_router

    return diary_router.create_router()
