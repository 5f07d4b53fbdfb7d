"""A problem found on patrol becomes a case of the case loop in one tap.

The link goes both ways: the diary entry keeps the case (``case_id``), and the
case's ``submitted`` event names the entry (``data.source = "diary"``,
``data.diary_entry``); :func:`entry_for_case` answers from the case's side.

The case loop (``bot/services/cases_intake.py``) creates cases for residents
from their own drafts; it has no call yet for a worker reporting a problem
they found.  :func:`_open_case` is the one place that makes such a case, with
the case loop's own building blocks (numbering, deadlines from the working
calendar, the ``submitted`` event, the grid team's notification), so that
when the case loop offers a worker-side creation call, only that function
changes.  The worker is the case's reporter (its ``resident_id``): they are
told of its progress and confirm the fix, as a resident would.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.diary import _revise, own_entry
from bot.services.diary_common import overseen_grid_ids
from bot.services.errors import Conflict, InvalidInput
from models import (
    ActorRole,
    AttachmentKind,
    Case,
    CaseAttachment,
    CaseEventType,
    CaseKind,
    CaseStatus,
    DiaryAttachment,
    DiaryEntry,
    EntryKind,
    Grid,
    RevisionAction,
    User,
)


async def open_case(session: AsyncSession, settings: Settings, worker: User, entry_id: int, now: datetime) -> Case:
    """Turn the worker's problem entry into a case (once)."""
    entry = await own_entry(session, settings, worker, entry_id, now)
    if entry.kind != EntryKind.problem:
        raise InvalidInput("not_problem")
    if entry.case_id is not None:
        number = await session.scalar(select(Case.number).where(Case.id == entry.case_id))
        raise Conflict("case_exists", number=number or "")
    files = list(await session.scalars(select(DiaryAttachment).where(DiaryAttachment.entry_id == entry.id)
                                       .order_by(DiaryAttachment.id)))
    if not entry.text and not files:
        raise InvalidInput("problem_empty")
    case = await _open_case(session, settings, worker, entry, files, now)
    entry.case_id = case.id
    await _revise(session, settings, entry, RevisionAction.case_opened, worker, now)
    return case


async def _open_case(session: AsyncSession, settings: Settings, worker: User, entry: DiaryEntry,
                     files: list[DiaryAttachment], now: datetime) -> Case:
    """The seam to the case loop: a new, sent "problem report" case for the entry's grid."""
    from bot.services.cases_common import add_event, next_number
    from bot.services.cases_intake import notify_new_case
    from bot.services.workcalendar import calendar_for

    grid = await session.get(Grid, entry.grid_id)
    assert grid is not None
    calendar = await calendar_for(session, settings, now=now)
    accept_hours, resolve_hours = settings.case_default_accept_hours, settings.case_default_resolve_hours
    case = Case(kind=CaseKind.report, status=CaseStatus.new, service_id=None, resident_id=worker.id,
                community_id=grid.community_id, grid_id=grid.id, building_id=entry.building_id,
                description=entry.text or "", latitude=entry.latitude, longitude=entry.longitude,
                created_at=now, submitted_at=now, accept_due_at=calendar.add_working_hours(now, accept_hours),
                resolve_due_at=calendar.add_working_hours(now, resolve_hours))
    case.number = await next_number(session, grid.community_id, now.astimezone(settings.tz).year)
    session.add(case)
    await session.flush()
    event = await add_event(
        session, case, CaseEventType.submitted, at=now, actor=worker, role=ActorRole.worker,
        data={"service": None, "kind": CaseKind.report.value, "accept_due": case.accept_due_at.isoformat(),
              "resolve_due": case.resolve_due_at.isoformat(), "accept_hours": accept_hours,
              "resolve_hours": resolve_hours, "needed_by": None, "authorisation": None, "emergency": False,
              "source": "diary", "diary_entry": entry.id})
    for f in files:
        session.add(CaseAttachment(case_id=case.id, event_id=event.id, uploaded_by_id=worker.id,
                                   kind=AttachmentKind(f.kind.value), file_id=f.file_id,
                                   file_unique_id=f.file_unique_id, latitude=f.latitude, longitude=f.longitude,
                                   phase="intake", created_at=now))
    await session.flush()
    await notify_new_case(session, settings, case, event.id)
    return case


async def entry_for_case(session: AsyncSession, viewer: User, case_id: int) -> DiaryEntry | None:
    """The diary entry a case came from, if ``viewer`` may read that diary."""
    entry = await session.scalar(select(DiaryEntry).where(DiaryEntry.case_id == case_id).limit(1))
    if entry is None:
        return None
    if entry.worker_id != viewer.id and entry.grid_id not in await overseen_grid_ids(session, viewer):
        return None
    return entry

