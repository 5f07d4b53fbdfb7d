"""The patrol diary (民情日志) in chat (docs/diary.md): grid workers log patrols,
visits, public-opinion items and problems in a few taps; grid heads and
community staff read their grids' diaries and keep the household ledger.

Speed first: during a patrol a reply keyboard gives one tap per kind of entry;
a visit is "building → household" (its category defaults to the household's
tag) or "building → unit → category"; an opinion is "topic"; a problem needs
no tap at all beyond its button.  Whatever follows (text, photo, voice,
location) is added to the entry just started for a few minutes.  Anything a
worker sends on patrol with no conversation going on is kept as a note, in
order, and can be tagged later.  Every press reaches a service that checks
who may do it (buttons can be forged).

The diary's routers sit right after ``common``: before the routers that take
locations or free messages (registration, case intake), but its catch-alls
(:mod:`handlers.diary.entries`) only fire for a worker with an open patrol,
outside any conversation, and never for a menu label or a command.

Modules: ``panel`` (📒 and /diary), ``patrol`` (start, end, live location),
``views`` (days and months), ``households`` (the ledger), ``entries`` (starting
entries, what follows them, loose notes, one entry's card); ``shared`` holds
their filters and helpers, ``ui`` their words and keyboards.
"""

from __future__ import annotations

from aiogram import F, Router


def create_router() -> Router:
    """The diary's routing table; a new router each call (one per dispatcher)."""
    # Imported here, not at the top: rooms that this package's routers import (handlers.refusal,
    # handlers.keyboards) import its ui module, so importing the package must not load its routers.
    from handlers.diary import entries, households, panel, patrol, views
    from handlers.diary.ui import ERRORS
    from handlers.refusal import RefusalMiddleware

    router = Router(name="diary")
    # The diary is kept in the worker's private chat with the bot, never in a group.
    router.message.filter(F.chat.type == "private")
    router.edited_message.filter(F.chat.type == "private")
    # A refused message or press is answered in the diary's own words first (empty_text, grid...);
    # an inner middleware of this router serves the handlers of the routers included below.
    RefusalMiddleware(first=ERRORS).setup_router(router)
    # Specific handlers first; ``entries`` last, with the catch-alls of a patrol.
    for module in (panel, patrol, views, households, entries):
        router.include_router(module.create_router())
    return router
