"""FixMyStreet's ``servicerequestupdates``: the public steps of requests since
a time (GET), and a note or a status from the system that filed a request
(POST).

A public update is a step of the loop (sent, accepted, work started, referred
to a department, done, reopened, closed), told by its localized label, or a
note the filing system itself posted; never a message between a resident
and a worker, an internal note or an alert.  Only steps of public requests
(:func:`bot.services.open311.common.public_conditions`) are listed.

POST, from the system that filed the request only: ``status`` CLOSED (or
FIXED) on a request marked done confirms it, OPEN (or REOPEN) reopens it, as
the resident's own buttons would; ``description`` is relayed to the case's
worker as the resident's message.  The answer's ``update_id`` is the last step
it made.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot.config import Settings
from bot.services import cases
from bot.services.errors import InvalidInput, NotAllowed, NotFound
from bot.services.l10n import translator
from bot.services.open311.common import (
    EVERYWHERE,
    MAX_PAGE,
    MAX_RESULTS,
    UPDATE_STATUS,
    Jurisdiction,
    one,
    parse_time,
    positive,
    public_conditions,
    public_service_ids,
    window,
)
from bot.services.open311.keys import Client
from bot.services.open311.masking import masked
from models import Case, CaseEvent, CaseEventType, CaseStatus, Open311Client, Open311Request, User

MAX_NOTE = 2000


@dataclass(frozen=True, slots=True)
class PublicUpdate:
    update_id: str
    service_request_id: str
    status: str  # the detailed state the step left the request in
    updated_datetime: datetime
    description: str
    media_url: str | None


@dataclass(frozen=True, slots=True)
class UpdateQuery:
    start: datetime
    end: datetime
    page: int
    page_size: int


def parse_update_query(params: Mapping[str, str], now: datetime, settings: Settings) -> UpdateQuery:
    start = parse_time(one(params, "start_date", 64), "start_date", settings.tz)
    end = parse_time(one(params, "end_date", 64), "end_date", settings.tz)
    start, end = window(start, end, now, ("start_date", "end_date"), default=True)
    assert start is not None and end is not None
    return UpdateQuery(start, end, positive(params, "page", 1, MAX_PAGE),
                       positive(params, "page_size", MAX_RESULTS, MAX_RESULTS))


async def list_updates(session: AsyncSession, query: UpdateQuery, locale: str,
                       area: Jurisdiction = EVERYWHERE) -> list[PublicUpdate]:
    _ = translator(locale)
    services = await public_service_ids(session)
    # A system's note: a message from the filing system's own user on its request.
    system_note = and_(CaseEvent.type == CaseEventType.message, CaseEvent.actor_id == Case.resident_id,
                       Case.resident_id.in_(select(Open311Client.user_id)))
    # The step a system's note was written at: the last step of its case before it.
    step = aliased(CaseEvent)
    before = (select(step.type).where(step.case_id == CaseEvent.case_id, step.id < CaseEvent.id,
                                      step.type.in_(list(UPDATE_STATUS)))
              .order_by(step.id.desc()).limit(1).correlate(CaseEvent).scalar_subquery())
    stmt = (select(CaseEvent.id, CaseEvent.type, CaseEvent.at, CaseEvent.note, Case.number,
                   case((CaseEvent.type == CaseEventType.message, before), else_=None))
            .join(Case, Case.id == CaseEvent.case_id)
            .where(*public_conditions(list(services)), *area.cases(), CaseEvent.public.is_(True),
                   CaseEvent.at >= query.start, CaseEvent.at <= query.end,
                   or_(CaseEvent.type.in_(list(UPDATE_STATUS)), system_note))
            .order_by(CaseEvent.at, CaseEvent.id)
            .limit(query.page_size).offset((query.page - 1) * query.page_size))
    out: list[PublicUpdate] = []
    for event_id, type_, at, note, number, previous in (await session.execute(stmt)).all():
        if type_ == CaseEventType.message:
            state = UPDATE_STATUS.get(CaseEventType(previous), "OPEN") if previous else "OPEN"
            text = masked(note) or ""  # the system's own words, as the public reads them
        else:
            state, text = UPDATE_STATUS[type_], cases.event_label(_, type_)
            if type_ == CaseEventType.withdrawn:
                state = "NO_FURTHER_ACTION"
        out.append(PublicUpdate(str(event_id), number, state, at, text, None))
    return out


@dataclass(frozen=True, slots=True)
class PostedUpdate:
    update_id: str


async def post_update(session: AsyncSession, settings: Settings, client: Client, params: Mapping[str, str],
                      now: datetime, area: Jurisdiction = EVERYWHERE) -> PostedUpdate:
    number = one(params, "service_request_id", 40)
    if number is None:
        raise InvalidInput("missing", field="service_request_id")
    status = (one(params, "status", 32) or "").upper()
    if status and status not in ("OPEN", "REOPEN", "CLOSED", "FIXED", "IN_PROGRESS", "ACTION_SCHEDULED"):
        raise InvalidInput("bad_status", field="status")
    note = one(params, "description", MAX_NOTE)
    if note is None and not status:
        raise InvalidInput("missing", field="description")
    services = await public_service_ids(session)
    row = (await session.execute(
        select(Case.id, Case.status, Open311Request.client_id).outerjoin(Open311Request, Open311Request.case_id == Case.id)
        .where(Case.number == number, *public_conditions(list(services)), *area.cases()))).first()
    if row is None:
        raise NotFound("request")
    case_id, case_status, client_id = row
    if client_id != client.id:
        raise NotAllowed("not_your_request")
    acts = case_status == CaseStatus.resolved and status in ("CLOSED", "FIXED", "OPEN", "REOPEN")
    if note is None and not acts:
        # Only a request marked done can be confirmed or reopened; any other status changes nothing.
        raise InvalidInput("status_unchanged", field="status")
    filer = await session.get(User, client.user_id)
    assert filer is not None
    if note is not None:  # first: a confirmed request is closed, and a closed one takes no message
        await cases.send_message(session, settings, filer, case_id, text=note, now=now)
    if acts and status in ("CLOSED", "FIXED"):
        await cases.confirm(session, settings, filer, case_id, now)
    elif acts:
        await cases.reopen(session, settings, filer, case_id, now)
    last = await session.scalar(select(CaseEvent.id).where(CaseEvent.case_id == case_id, CaseEvent.actor_id == filer.id)
                                .order_by(CaseEvent.id.desc()).limit(1))
    assert last is not None
    return PostedUpdate(str(last))
