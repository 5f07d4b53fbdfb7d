"""Routing a feature's buttons: one handler for each ``action`` of a callback data kind."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData


def on_press(router: Router, data: type[CallbackData], handlers: Mapping[str, Callable[..., Any]]) -> None:
    """Route each button of ``data``'s kind to the handler of its ``action``."""
    for action, handler in handlers.items():
        router.callback_query.register(handler, data.filter(F.action == action))
