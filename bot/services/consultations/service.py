"""Residents' consultations: the rules (see the package's docstring).

Every function checks its actor, buttons included (callback data can be
forged): only someone who oversees the scope (community staff, a grid head,
a district administrator: :func:`bot.services.access.may_oversee`) asks and
reads results; only a resident who was asked answers, once, changing it
until the closing time.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import broadcasts
from bot.services.access import may_oversee
from bot.services.consultations.common import Brief, Results, Turnout
from bot.services.consultations.texts import cq_cb, question_payload, result_payload, result_text
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.inputs import typed_text
from bot.services.l10n import translator
from bot.services.notify import Button, notify, queue_many, recipient_locale
from models import (
    BroadcastAudience,
    BroadcastScope,
    Building,
    Consultation,
    ConsultationAnswer,
    ConsultationRecipient,
    ConsultationStatus,
    Grid,
    OutboxKind,
    User,
)

QUESTION_LIMIT = 1000
CHOICE_LIMIT = 24  # a choice is a button: with its mark it stays within 28 characters
MIN_CHOICES, MAX_CHOICES = 2, 10
OPEN_ANSWER_LIMIT = 500
MIN_OPEN = timedelta(hours=1)
MAX_OPEN = timedelta(days=30)
LIST_LIMIT = 8


# ------------------------------------------------------------------ asking

def require_asker(user: User) -> None:
    """``NotAllowed`` unless ``user`` may ask residents (staff, grid head, admin)."""
    if not may_oversee(user):
        raise NotAllowed()


def clean_question(text: str | None) -> str:
    return typed_text(text, QUESTION_LIMIT)


def parse_choices(text: str | None) -> list[str]:
    """One choice a line: 2 to 10 of them, each short enough for a button, no two alike."""
    choices = [" ".join(line.split()) for line in (text or "").splitlines()]
    choices = [c for c in choices if c]
    if not MIN_CHOICES <= len(choices) <= MAX_CHOICES:
        raise InvalidInput("consult_choices", low=MIN_CHOICES, high=MAX_CHOICES)
    if any(len(c) > CHOICE_LIMIT for c in choices):
        raise InvalidInput("consult_choice_long", limit=CHOICE_LIMIT)
    if len({c.casefold() for c in choices}) != len(choices):
        raise InvalidInput("consult_choice_twice")
    return choices


def check_closing(closes_at: datetime, now: datetime) -> None:
    if closes_at < now + MIN_OPEN:
        raise InvalidInput("consult_close_soon")
    if closes_at > now + MAX_OPEN:
        raise InvalidInput("consult_close_far", days=MAX_OPEN.days)


async def _place(session: AsyncSession, ref: broadcasts.ScopeRef) -> tuple[int, int | None]:
    """The community (and the grid, for a grid or a building) of a checked scope."""
    if ref.type == BroadcastScope.community:
        return ref.id, None
    grid_id = ref.id
    if ref.type == BroadcastScope.building:
        building = await session.get(Building, ref.id)
        assert building is not None
        grid_id = building.grid_id
    grid = await session.get(Grid, grid_id)
    assert grid is not None
    return grid.community_id, grid.id


def _recipients_query(ref: broadcasts.ScopeRef) -> Any:
    return (select(User.id, User.telegram_id, User.locale, User.grid_id)
            .where(broadcasts.audience_filter(ref, BroadcastAudience.residents), User.telegram_id.is_not(None),
                   User.unreachable.is_(False)).order_by(User.id))


async def count_recipients(session: AsyncSession, actor: User, ref: broadcasts.ScopeRef) -> int:
    """How many residents a consultation of ``ref`` would ask now (checked)."""
    await _check_ref(session, actor, ref)
    return len((await session.execute(_recipients_query(ref))).all())


async def _check_ref(session: AsyncSession, actor: User, ref: broadcasts.ScopeRef) -> None:
    require_asker(actor)
    if ref.type == BroadcastScope.district:
        raise InvalidInput("consult_scope")
    await broadcasts.check_scope(session, actor, ref)


async def create(session: AsyncSession, settings: Settings, actor: User, *, ref: broadcasts.ScopeRef,
                 question: str, choices: list[str], closes_at: datetime, now: datetime) -> Consultation:
    """Check everything, then write the consultation, who is asked, and one outbox row
    each (bulk, through the delivery engine), in the caller's transaction."""
    await _check_ref(session, actor, ref)
    question = clean_question(question)
    if choices:
        choices = parse_choices("\n".join(choices))
    check_closing(closes_at, now)
    recipients = (await session.execute(_recipients_query(ref))).all()
    if not recipients:
        raise InvalidInput("no_recipients")
    community_id, grid_id = await _place(session, ref)
    consultation = Consultation(
        created_by_id=actor.id, scope_type=ref.type, scope_id=ref.id, community_id=community_id, grid_id=grid_id,
        question=question, choices=choices, status=ConsultationStatus.open, closes_at=closes_at,
        salt=secrets.token_hex(32), asked=len(recipients), created_at=now)
    session.add(consultation)
    await session.flush()
    await session.execute(ConsultationRecipient.__table__.insert(), [
        {"consultation_id": consultation.id, "user_id": uid, "grid_id": grid, "answered": False}
        for uid, _tg, _loc, grid in recipients])
    payloads: dict[str, dict[str, Any]] = {}
    rows = []
    for uid, tg, loc, _grid in recipients:
        locale = loc or settings.default_locale
        if locale not in payloads:
            payloads[locale] = question_payload(consultation, locale, settings.tz)
        rows.append((uid, tg, payloads[locale]))
    await queue_many(session, rows, kind=OutboxKind.broadcast, dedupe_prefix=f"cq:{consultation.id}:q",
                     due_at=now, now=now)
    return consultation


# ------------------------------------------------------------------ answering

def _voter(consultation: Consultation, user: User) -> str:
    assert consultation.salt is not None
    return hashlib.sha256(f"{consultation.salt}:{user.id}".encode()).hexdigest()


async def _open_for(session: AsyncSession, user: User, consultation_id: int, now: datetime) -> Consultation:
    """The consultation if ``user`` was asked and it is still open."""
    consultation = await session.get(Consultation, consultation_id)
    asked = consultation is not None and await session.scalar(select(ConsultationRecipient.id).where(
        ConsultationRecipient.consultation_id == consultation_id, ConsultationRecipient.user_id == user.id))
    if consultation is None or asked is None:
        raise NotFound("consult")
    if consultation.status != ConsultationStatus.open or consultation.closes_at <= now:
        raise Conflict("consult_closed")
    return consultation


async def _store(session: AsyncSession, consultation: Consultation, user: User, *, choice: int | None,
                 text: str | None) -> bool:
    """Write (or replace) the answer under the voter key; True when it replaced one."""
    voter = _voter(consultation, user)
    existing = await session.scalar(select(ConsultationAnswer).where(
        ConsultationAnswer.consultation_id == consultation.id, ConsultationAnswer.voter == voter))
    if existing is not None:
        existing.choice, existing.text = choice, text
    else:
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(insert(ConsultationAnswer).values(
            consultation_id=consultation.id, voter=voter, choice=choice, text=text)
            .on_conflict_do_update(index_elements=["consultation_id", "voter"],
                                   set_={"choice": choice, "text": text}))
    await session.execute(update(ConsultationRecipient).where(
        ConsultationRecipient.consultation_id == consultation.id, ConsultationRecipient.user_id == user.id)
        .values(answered=True))
    await session.flush()
    return existing is not None


async def answer(session: AsyncSession, user: User, consultation_id: int, choice: int, now: datetime) -> bool:
    """Record ``user``'s choice (True: it replaced their earlier answer)."""
    consultation = await _open_for(session, user, consultation_id, now)
    if not consultation.choices or not 0 <= choice < len(consultation.choices):
        raise InvalidInput("consult_no_choice")
    return await _store(session, consultation, user, choice=choice, text=None)


async def answer_text(session: AsyncSession, user: User, consultation_id: int, text: str, now: datetime) -> bool:
    """Record ``user``'s open answer (True: it replaced their earlier one)."""
    consultation = await _open_for(session, user, consultation_id, now)
    if consultation.choices:
        raise InvalidInput("consult_no_choice")
    text = typed_text(text, OPEN_ANSWER_LIMIT, one_line=True)
    return await _store(session, consultation, user, choice=None, text=text)


async def open_question(session: AsyncSession, user: User, consultation_id: int, now: datetime) -> Consultation:
    """The consultation ``user`` is about to write an open answer to (checked)."""
    consultation = await _open_for(session, user, consultation_id, now)
    if consultation.choices:
        raise InvalidInput("consult_no_choice")
    return consultation


# ------------------------------------------------------------------ results

async def _results(session: AsyncSession, consultation: Consultation) -> Results:
    answers = (await session.execute(select(ConsultationAnswer.choice, ConsultationAnswer.text).where(
        ConsultationAnswer.consultation_id == consultation.id))).all()
    tally = Counter(c for c, _t in answers if c is not None)
    answered = int(await session.scalar(select(func.count()).select_from(ConsultationRecipient).where(
        ConsultationRecipient.consultation_id == consultation.id, ConsultationRecipient.answered)) or 0)
    return Results(consultation.id, consultation.question, list(consultation.choices),
                   [tally.get(i, 0) for i in range(len(consultation.choices))],
                   sorted(t for _c, t in answers if t), consultation.asked, answered, consultation.status,
                   consultation.closes_at)


async def _readable(session: AsyncSession, actor: User, consultation_id: int) -> Consultation:
    consultation = await session.get(Consultation, consultation_id)
    if consultation is None:
        raise NotFound("consult")
    if consultation.created_by_id != actor.id:
        require_asker(actor)
        try:
            await broadcasts.check_scope(session, actor,
                                         broadcasts.ScopeRef(consultation.scope_type, consultation.scope_id))
        except NotAllowed:
            raise NotFound("consult") from None
    return consultation


async def results(session: AsyncSession, actor: User, consultation_id: int) -> Results:
    """The counts (and unsigned open answers) for whoever asked it or oversees its scope."""
    return await _results(session, await _readable(session, actor, consultation_id))


async def recent(session: AsyncSession, actor: User) -> list[Brief]:
    """The latest consultations the actor asked or oversees, newest first."""
    require_asker(actor)
    rows = list(await session.scalars(select(Consultation).order_by(Consultation.id.desc()).limit(200)))
    out: list[Brief] = []
    for c in rows:
        if c.created_by_id != actor.id:
            try:
                await broadcasts.check_scope(session, actor, broadcasts.ScopeRef(c.scope_type, c.scope_id))
            except NotAllowed:
                continue
        r = await _results(session, c)
        out.append(Brief(c.id, c.question, c.status, c.closes_at, r.asked, r.answered))
        if len(out) >= LIST_LIMIT:
            break
    return out


async def close_due(session: AsyncSession, settings: Settings, now: datetime, *, limit: int = 50) -> int:
    """Close every consultation past its time: erase its salt (answers can no longer be
    tied to anyone), then post the result to everyone asked (bulk, through the delivery
    engine) and to whoever asked.  Returns how many closed."""
    due = list(await session.scalars(
        select(Consultation).where(Consultation.status == ConsultationStatus.open, Consultation.closes_at <= now)
        .order_by(Consultation.closes_at).limit(limit).with_for_update(skip_locked=True)))
    for consultation in due:
        consultation.status, consultation.salt, consultation.closed_at = ConsultationStatus.closed, None, now
        await session.flush()
        res = await _results(session, consultation)
        asked = (await session.execute(
            select(User.id, User.telegram_id, User.locale).join(
                ConsultationRecipient, ConsultationRecipient.user_id == User.id)
            .where(ConsultationRecipient.consultation_id == consultation.id, User.telegram_id.is_not(None),
                   User.unreachable.is_(False)).order_by(User.id))).all()
        payloads: dict[str, dict[str, Any]] = {}
        rows = []
        for uid, tg, loc in asked:
            locale = loc or settings.default_locale
            if locale not in payloads:
                payloads[locale] = result_payload(res, locale, settings.tz)
            rows.append((uid, tg, payloads[locale]))
        await queue_many(session, rows, kind=OutboxKind.broadcast, dedupe_prefix=f"cq:{consultation.id}:r",
                         now=now)
        asker = await session.get(User, consultation.created_by_id) if consultation.created_by_id else None
        if asker is not None and asker.id not in {r[0] for r in asked}:
            _ = translator(recipient_locale(asker, settings.default_locale))
            await notify(session, recipient=asker, kind=OutboxKind.digest, dedupe_key=f"cq:{consultation.id}:ra",
                         text=result_text(_, res, settings.tz),
                         buttons=[[Button(_("📊 Chart"), cq_cb("res", consultation.id))]])
    return len(due)


# ------------------------------------------------------------------ the reports' figures

async def turnout(session: AsyncSession, grid_ids: Any, since: datetime, until: datetime, *,
                  by: str | None = None) -> dict[int | None, Turnout]:
    """Consultations asked in [since, until) of the residents of ``grid_ids`` (a select of
    grid ids), counted by the grid of each resident asked: per ``by`` = "grid",
    "community", or None (one row, key None).  The one definition of the figure."""
    R = ConsultationRecipient
    key = {"grid": R.grid_id, "community": Grid.community_id, None: None}[by]
    cols: list[Any] = [func.count(func.distinct(R.consultation_id)), func.count(),
                       func.coalesce(func.sum(case((R.answered.is_(True), 1), else_=0)), 0)]
    stmt = (select(*([key] if key is not None else []), *cols)
            .join(Consultation, Consultation.id == R.consultation_id).join(Grid, Grid.id == R.grid_id)
            .where(Consultation.created_at >= since, Consultation.created_at < until, R.grid_id.in_(grid_ids)))
    if key is not None:
        stmt = stmt.group_by(key)
    out: dict[int | None, Turnout] = {}
    for row in (await session.execute(stmt)).all():
        k = row[0] if key is not None else None
        n, asked, answered = row[-3:]
        if asked:
            out[k] = Turnout(k, int(n), int(asked), int(answered or 0))
    return out
