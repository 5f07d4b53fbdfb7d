"""Service days in chat (docs/org.md): staff announce and mark attendance;
residents and volunteers sign up, cancel and see their place on the waiting
list.  ``ui`` holds the buttons, states and error texts."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    """The service days' router."""
    # Imported here, not at the top: handlers.refusal imports this package's ui module,
    # so importing the package must not load its router.
    from handlers.events import router

    return router.create_router()
