"""Domain errors raised by services; handlers turn them into localized answers.

Each error carries a stable ``code``; ``handlers.refusal.error_text`` maps codes
to translated messages (the rooms' ``ERRORS`` tables, then
``handlers.render.GENERAL_ERRORS``).  Services never import Telegram or aiogram.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, code: str | None = None, **params: object) -> None:
        self.code = code or self.code
        self.params = params
        super().__init__(self.code)


class NotFound(DomainError):
    code = "not_found"


class NotAllowed(DomainError):
    code = "not_allowed"


class InvalidInput(DomainError):
    code = "invalid_input"


class Conflict(DomainError):
    code = "conflict"
