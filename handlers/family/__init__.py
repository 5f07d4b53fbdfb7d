"""Family delegates in chat (docs/family.md): /family, the deep link, acting for a resident."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    # Imported here, not at the top: handlers.refusal imports this package's ui module,
    # so importing the package must not load its router (which imports handlers.refusal).
    from handlers.family import router

    return router.create_router()
