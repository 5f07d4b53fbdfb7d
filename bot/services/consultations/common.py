"""What the consultation modules share: the plain results they hand out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from models import ConsultationStatus


@dataclass(frozen=True, slots=True)
class Results:
    """What anyone may see of a consultation: counts and unsigned texts, never who."""

    id: int
    question: str
    choices: list[str]
    counts: list[int]  # per choice (empty for open answers)
    texts: list[str]  # open answers, sorted (not in the order they came)
    asked: int
    answered: int
    status: ConsultationStatus
    closes_at: datetime

    @property
    def open_answers(self) -> bool:
        return not self.choices


@dataclass(frozen=True, slots=True)
class Brief:
    id: int
    question: str
    status: ConsultationStatus
    closes_at: datetime
    asked: int
    answered: int


@dataclass(frozen=True, slots=True)
class Turnout:
    """Consultations asked in a period and how many of those asked answered (a key: a
    grid or community id, or None for the whole scope)."""

    key: int | None
    consultations: int
    asked: int
    answered: int

    @property
    def rate(self) -> float | None:
        return self.answered / self.asked if self.asked else None
