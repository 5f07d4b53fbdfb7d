"""Thin aiogram routers, one per audience, included in this order.

Each module keeps its handlers as plain functions and its routing table in
``create_router()``, so every dispatcher (tests start many) gets fresh routers.
"""

from aiogram import Router


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
    return [m.create_router() for m in (common, reports, diary, cases_resident, cases_worker, cases_department,
                                        cases_staff, appointments_resident, appointments_staff,
                                        resident, worker, staff, department, broadcast, cases_menu, fallback)]
