"""Thin aiogram routers, one per audience, included in this order.

Each module keeps its handlers as plain functions and its routing table in
``create_router()``, so every dispatcher (tests start many) gets fresh routers.
"""

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import common, department, fallback, resident, staff, worker

    return [m.create_router() for m in (common, resident, worker, staff, department, fallback)]
