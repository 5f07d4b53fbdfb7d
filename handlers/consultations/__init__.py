"""Residents' consultations (群众议事) in chat: the asker's composer and results, residents' answers."""

from __future__ import annotations

from aiogram import Router


def create_router() -> Router:
    # Imported here, not at the top: handlers.refusal imports this package's ui module,
    # so importing the package must not load its router (which imports handlers.refusal).
    from handlers.consultations import router

    return router.create_router()
