"""The routers of every audience and feature, included in this order.

Each module or feature package keeps its handlers as plain functions and its
routing table in ``create_router()``, so every dispatcher (tests start many)
gets fresh routers.
"""


from collections.abc import Iterable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import CallableObject
from aiogram.filters import Command
from aiogram.types import Message

from handlers import (
    appointments,
    broadcast,
    cases,
    common,
    consultations,
    department,
    diary,
    events,
    fallback,
    family,
    org,
    privacy,
    private,
    reports,
    resident,
    staff,
    worker,
)


def get_routers() -> list[Router]:
    # Each feature package's create_router() includes its own sub-routers in order.
    # The case and appointment routers go before ``resident`` (it takes any location); the cases
    # intake router (handlers.cases.create_intake_router), which turns a resident's free message
    # at the menu into a case, just before fallback.
    # ``diary`` right after ``common``: a worker on patrol sends notes (locations included)
    # that must not reach registration or case intake; its catch-alls only act on patrol.
    # ``reports`` before ``diary``: a grid head on patrol typing a report's dates is answering the report.
    # ``family`` before ``common``: its deep link (/start fam_...) is not an invite.
    # ``consultations`` early: an asker's typed question must not become a case.
    # ``private`` first: nothing personal is answered in a group chat (issue 16).
    # ``org`` (heads and volunteers) after ``diary``: its typed steps (a neighbour's name, phone and
    # request) are taken only in its own states, before case intake could read them as a new case;
    # ``events`` likewise (a service day's form typed by staff).
    routers = [
        private.create_router(),
        family.create_router(),
        common.create_router(),
        privacy.create_router(),
        consultations.create_router(),
        reports.create_router(),
        diary.create_router(),
        org.create_router(),
        events.create_router(),
        cases.create_router(),
        appointments.create_router(),
        resident.create_router(),
        worker.create_router(),
        staff.create_router(),
        department.create_router(),
        broadcast.create_router(),
        cases.create_intake_router(),
        fallback.create_router(),
    ]
    prepare_filters(routers)
    return routers


def prepare_filters(routers: Iterable[Router]) -> None:
    """Make the filters an update meets on its way down sixteen routers cheap.

    * Synchronous filters (``F.text == ...``) are called on the event loop:
      aiogram runs every callable that is not a coroutine function through
      ``asyncio.to_thread``, once per check, and ours are pure and take
      microseconds.
    * A command filter turns away a message that does not start with one of
      its prefixes before aiogram parses it as a command: most messages are
      button labels and free text, and each passes several command filters.

    The parameters aiogram passes are still chosen from the original
    callable's signature, and the answers are the same
    (``tests/unit/test_filters.py``).
    """
    for router in routers:
        for observer in router.observers.values():
            for handler in [observer._handler, *observer.handlers]:
                for item in [handler, *(handler.filters or ())]:
                    _make_awaitable(item)
                    _reject_non_commands_early(item)
        prepare_filters(router.sub_routers)


def _make_awaitable(item: CallableObject) -> None:
    if item.awaitable:
        return
    function = item.callback

    async def call_in_place(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    call_in_place.__wrapped__ = function  # type: ignore[attr-defined]
    item.callback = call_in_place
    item.awaitable = True


def _reject_non_commands_early(item: CallableObject) -> None:
    command = item.callback
    if not isinstance(command, Command):
        return
    prefixes = command.prefix

    async def command_filter(message: Any, *args: Any, **kwargs: Any) -> Any:
        # As Command.extract_command reads it: the first whitespace-separated word.
        text = (message.text or message.caption) if isinstance(message, Message) else None
        if text:
            first = text.lstrip()[:1]
            if not first or first not in prefixes:
                return False
        return await command(message, *args, **kwargs)

    command_filter.__wrapped__ = command  # type: ignore[attr-defined]
    item.callback = command_filter
