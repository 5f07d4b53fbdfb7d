"""Thin aiogram routers, one per audience, included in this order.

Each module keeps its handlers as plain functions and its routing table in
``create_router()``, so every dispatcher (tests start many) gets fresh routers.
"""

from collections.abc import Iterable
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.handler import CallableObject


def get_routers() -> list[Router]:
    from handlers import (
        appointments_resident,
        appointments_staff,
        broadcast,
        cases_department,
        cases_menu,
        cases_resident,
        cases_staff,
        cases_worker,
        common,
        department,
        diary,
        fallback,
        reports,
        resident,
        staff,
        worker,
    )

    # The case and appointment routers go before ``resident`` (it takes any location); cases_menu,
    # which turns a resident's free message at the menu into a case, just before fallback.
    # ``diary`` right after ``common``: a worker on patrol sends notes (locations included)
    # that must not reach registration or case intake; its catch-alls only act on patrol.
    # ``reports`` before ``diary``: a grid head on patrol typing a report's dates is answering the report.
    routers = [m.create_router() for m in (common, reports, diary, cases_resident, cases_worker, cases_department,
                                           cases_staff, appointments_resident, appointments_staff,
                                           resident, worker, staff, department, broadcast, cases_menu, fallback)]
    run_sync_filters_inline(routers)
    return routers


def run_sync_filters_inline(routers: Iterable[Router]) -> None:
    """Call synchronous filters (``F.text == ...``) on the event loop.

    aiogram runs every callable that is not a coroutine function through
    ``asyncio.to_thread``, once per check: a thread hand-off for each
    ``F.text == label`` an update is tested against on its way down sixteen
    routers.  Ours are pure and take microseconds, so they are wrapped in a
    coroutine that calls them in place.  The parameters aiogram passes are
    still chosen from the original callable's signature.
    """
    for router in routers:
        for observer in router.observers.values():
            for handler in [observer._handler, *observer.handlers]:
                for item in [handler, *(handler.filters or ())]:
                    _make_awaitable(item)
        run_sync_filters_inline(router.sub_routers)


def _make_awaitable(item: CallableObject) -> None:
    if item.awaitable:
        return
    function = item.callback

    async def call_in_place(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    item.callback = call_in_place
    item.awaitable = True
