"""The consultation's messages, rendered per recipient language: the question
with its answer buttons, and the result (counts with text bars, open answers
without names).  Also the callback codec of the buttons written into outbox
rows (``handlers.consultations.ui.CqCb`` packs the same layout)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.services.consultations.common import Results
from bot.services.escape import esc
from bot.services.l10n import Translate, translator
from models import Consultation

CQ_CB = "cq"
BAR_WIDTH = 10
TEXT_BUDGET = 3500  # characters of open answers in one message (Telegram takes 4096)


def cq_cb(action: str, consultation_id: int, arg: int = 0) -> str:
    return f"{CQ_CB}:{action}:{consultation_id}:{arg}"


def when(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def pct(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "–"


def bar(part: int, whole: int) -> str:
    filled = round(BAR_WIDTH * part / whole) if whole else 0
    return "▇" * filled + "░" * (BAR_WIDTH - filled)


def question_text(_: Translate, consultation: Consultation, tz: ZoneInfo) -> str:
    how = (_("Tap your answer below. You can change it until then.") if consultation.choices
           else _("Tap the button and write your answer. You can change it until then."))
    return (_("🗳 <b>Residents' consultation</b>\n{question}\n\nOpen until {when}. {how}\n"
              "Your answer is anonymous: nobody, staff included, sees who answered what.").format(
        question=esc(consultation.question), when=when(consultation.closes_at, tz), how=how))


def answer_buttons(_: Translate, consultation: Consultation, chosen: int | None = None) -> list[list[dict[str, str]]]:
    if not consultation.choices:
        return [[{"text": _("✍️ Write my answer"), "callback_data": cq_cb("w", consultation.id)}]]
    return [[{"text": ("✅ " if i == chosen else "") + choice, "callback_data": cq_cb("a", consultation.id, i)}]
            for i, choice in enumerate(consultation.choices)]


def question_payload(consultation: Consultation, locale: str, tz: ZoneInfo) -> dict[str, Any]:
    _ = translator(locale)
    return {"text": question_text(_, consultation, tz), "buttons": answer_buttons(_, consultation)}


def result_text(_: Translate, res: Results, tz: ZoneInfo) -> str:
    if res.status.value == "closed":
        head = _("🗳 <b>Result of the residents' consultation</b>")
    else:
        head = _("🗳 <b>Consultation so far</b> (open until {when})").format(when=when(res.closes_at, tz))
    lines = [head, esc(res.question), "",
             _("Answered: {answered} of {asked} asked ({pct}).").format(
                 answered=res.answered, asked=res.asked, pct=pct(res.answered, res.asked))]
    total = sum(res.counts)
    for choice, n in zip(res.choices, res.counts, strict=True):
        lines.append(f"{esc(choice)}\n{bar(n, total)} {n} ({pct(n, total)})")
    shown: list[str] = []
    budget = TEXT_BUDGET - sum(len(line) for line in lines)
    for t in res.texts:
        budget -= len(t) + 3
        if budget < 0:
            break
        shown.append(t)
    if res.open_answers:
        lines.append(_("What residents wrote (no names):") if shown else _("Nobody wrote an answer."))
        lines += [f"• {esc(t)}" for t in shown]
        if len(shown) < len(res.texts):
            lines.append(_("… and {n} more.").format(n=len(res.texts) - len(shown)))
    return "\n".join(lines)


def result_payload(res: Results, locale: str, tz: ZoneInfo) -> dict[str, Any]:
    return {"text": result_text(translator(locale), res, tz)}
