"""Residents' consultations (群众议事): staff or a grid head ask the residents of a
building, grid or community a question (2-10 choices, or open answers) with a
closing time; each resident answers once and may change it until then; the
result (counts, a chart, open answers without names) is posted back to
everyone asked when it closes (docs/consultations.md).

**Buttons, not Telegram's polls.**  An anonymous poll sent to a private chat
is a poll of its own per recipient: the bot would have to send thousands of
polls, map every ``poll`` update back to a consultation, and call
``stopPoll`` once per recipient at the closing time (thousands of requests
outside the delivery engine's outbox).  Polls have no open answers, and an
anonymous poll's vote cannot be tied to the person it must count once.  Inline
buttons go through the outbox like any notice, are checked by the service on
every press (only someone asked, only while open), show the chosen answer
with a ✅ and allow a change with one more tap, and are large and plain for
older residents.

**Anonymity in the tables** (``models.consultations``): who was asked and
whether they answered is kept apart from what was answered; an answer is
filed under a salted hash of the person, and the salt is erased at closing.

    common   the results handed out (counts, briefs, turnout)
    texts    the question and result messages per language, the button codec
    service  the rules: asking, answering, results, closing, the report figures
    jobs     ``consultations.close``: close the consultations past their time, post results

This module is its public face.
"""

from __future__ import annotations

from bot.services.consultations.common import Brief, Results, Turnout
from bot.services.consultations.service import (
    CHOICE_LIMIT,
    MAX_CHOICES,
    MIN_CHOICES,
    answer,
    answer_text,
    check_closing,
    clean_question,
    close_due,
    count_recipients,
    create,
    open_question,
    parse_choices,
    recent,
    require_asker,
    results,
    turnout,
)
from bot.services.consultations.texts import (
    CQ_CB,
    answer_buttons,
    cq_cb,
    question_text,
    result_text,
    when,
)

__all__ = [
    "CHOICE_LIMIT",
    "CQ_CB",
    "MAX_CHOICES",
    "MIN_CHOICES",
    "Brief",
    "Results",
    "Turnout",
    "answer",
    "answer_buttons",
    "answer_text",
    "check_closing",
    "clean_question",
    "close_due",
    "count_recipients",
    "cq_cb",
    "create",
    "open_question",
    "parse_choices",
    "question_text",
    "recent",
    "require_asker",
    "result_text",
    "results",
    "turnout",
    "when",
]
