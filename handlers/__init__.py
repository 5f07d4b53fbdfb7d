"""Thin aiogram routers, one per audience, included in this order."""

from aiogram import Router


def get_routers() -> list[Router]:
    from handlers import common, department, fallback, resident, staff, worker

    return [common.router, resident.router, worker.router, staff.router, department.router, fallback.router]
