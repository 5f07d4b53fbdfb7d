"""The district's own organisation in chat (docs/org.md): building and unit
heads (``heads``), volunteers and the errands offered to them
(``volunteers``); ``ui`` holds their buttons, states and error texts."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    """The heads' and volunteers' routers."""
    # Imported here, not at the top: handlers.refusal imports this package's ui module,
    # so importing the package must not load its routers.
    from handlers.org import router

    return router.create_router()
