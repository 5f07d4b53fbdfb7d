"""Callback data factories.  Everything in them can be forged by a client:
handlers pass the values to services, which check them."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData


class LangCb(CallbackData, prefix="lang"):
    locale: str


class PlaceCb(CallbackData, prefix="pl"):
    """Pick a place while registering: level c(ommunity), g(rid), b(uilding)."""

    level: str
    id: int


class PageCb(CallbackData, prefix="pg"):
    """Page through a list: level and parent as in :class:`PlaceCb`."""

    level: str
    parent: int
    page: int


class InviteCb(CallbackData, prefix="inv"):
    role: str
    scope: int = 0


class ProfileCb(CallbackData, prefix="prof"):
    action: str


class BcScopeCb(CallbackData, prefix="bcs"):
    """Broadcast audience: open (``pick=0``) or choose (``pick=1``) a scope."""

    type: str  # district, community, grid, building
    id: int
    pick: int = 0


class BcStepCb(CallbackData, prefix="bcx"):
    """Broadcast composer steps: audience group, ack button, send/schedule/cancel."""

    action: str
    value: str = ""


class BcAckCb(CallbackData, prefix="bca"):
    """A recipient's "I have read it"."""

    id: int


class PrivacyCb(CallbackData, prefix="pv"):
    """Privacy: ``agree`` to the notice; ``erase`` / ``keep`` after /deletemydata."""

    action: str
