"""Helpers for end-to-end tests that send a notice through the bot."""

from __future__ import annotations

from tests.e2e.harness import Person


async def address_notice(staff: Person, text: str, area: str, audience: str = "Residents") -> None:
    """From the menu, "📢 Send a notice" (labels in English): the words, Xinzhan Grid 1, the
    ``area`` in it and the ``audience``; the notice then waits on "Yes, ask them to confirm"."""
    await staff.from_menu("📢 Send a notice")
    await staff.send(text)
    await staff.tap("Xinzhan Grid 1")
    await staff.tap(area)
    await staff.tap(audience)
