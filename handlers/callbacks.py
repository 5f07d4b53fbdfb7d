"""Callback data factories.  Everything in them can be forged by a client:
handlers pass the values to services, which check them."""

from __future__ import annotations

from aiogram.filters.callback_data import CallbackData

from bot.services.bounds import Id, OptId, Page


class LangCb(CallbackData, prefix="lang"):
    locale: str


class PlaceCb(CallbackData, prefix="pl"):
    """Pick a place while registering: level c(ommunity), g(rid), b(uilding)."""

    level: str
    id: OptId


class PageCb(CallbackData, prefix="pg"):
    """Page through a list: level and parent as in :class:`PlaceCb`."""

    level: str
    parent: OptId
    page: Page


class InviteCb(CallbackData, prefix="inv"):
    role: str
    scope: OptId = 0


class RevokeCb(CallbackData, prefix="rvk"):
    """Remove a role: ``user`` picked, then ``grant``, then ``ok`` to confirm."""

    user: Id
    grant: OptId = 0
    ok: OptId = 0


class AccessLogCb(CallbackData, prefix="alog"):
    page: Page


class ProfileCb(CallbackData, prefix="prof"):
    action: str


class BcScopeCb(CallbackData, prefix="bcs"):
    """Broadcast audience: open (``pick=0``) or choose (``pick=1``) a scope."""

    type: str  # district, community, grid, building
    id: OptId
    pick: Page = 0


class BcStepCb(CallbackData, prefix="bcx"):
    """Broadcast composer steps: audience group, ack button, send/schedule/cancel."""

    action: str
    value: str = ""


class BcAckCb(CallbackData, prefix="bca"):
    """A recipient's "I have read it"."""

    id: Id


class HomeCb(CallbackData, prefix="hm"):
    """A worker on a resident's home claim: ``list`` the claims, ``ok`` confirm, ``no`` reject (id: the resident)."""

    action: str
    id: OptId = 0


class PrivacyCb(CallbackData, prefix="pv"):
    """Privacy: ``agree`` to the notice; ``erase`` / ``keep`` after /deletemydata."""

    action: str


class NavCb(CallbackData, prefix="nav"):
    """Leave a list or a prompt: ``menu`` (⬅️ Back from a first list) or ``cancel`` (❌ Cancel); the
    conversation ends and the main menu shows (handlers.common.nav_left)."""

    action: str
