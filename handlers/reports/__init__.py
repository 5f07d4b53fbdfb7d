"""Staff reports in chat (docs/metrics.md)."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    # Imported here, not at the top: rooms that this package's routers import (handlers.refusal,
    # handlers.keyboards) import its ui module, so importing the package must not load its routers.
    from handlers.reports import router as reports_router

    return reports_router.create_router()
