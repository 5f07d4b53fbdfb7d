"""Thin aiogram routers: one package per feature (cases, appointments, diary,
reports, broadcast) and one module per audience (common, resident, worker,
staff, department, fallback).  ``handlers.routers`` includes them in order.
"""
