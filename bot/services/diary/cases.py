"""A problem found on patrol becomes a case of the case loop in one tap.

The link goes both ways: the diary entry keeps the case (``case_id``), and the
case's ``submitted`` event names the entry (``data.source = "diary"``,
``data.diary_entry``); :func:`entry_for_case` answers from the case's side.

The case itself is made by the case loop's call for a problem a worker
found, :func:`bot.services.cases.open_found_problem` (numbering,
deadlines from the working calendar, the ``submitted`` event, the grid
team's notification, and its own permission check).  The worker is the
case's reporter (its ``resident_id``): they are told of its progress and
confirm the fix, as a resident would.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import overseen_grid_ids
from bot.services.cases import FoundFile, open_found_problem
from bot.services.diary.entries import own_entry, revise
from bot.services.errors import Conflict, InvalidInput
from models import (
    AttachmentKind,
    Case,
    DiaryAttachment,
    DiaryEntry,
    EntryKind,
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
    await revise(session, settings, entry, RevisionAction.case_opened, worker, now)
    return case


async def _open_case(session: AsyncSession, settings: Settings, worker: User, entry: DiaryEntry,
                     files: list[DiaryAttachment], now: datetime) -> Case:
    """The seam to the case loop: its call for a problem a worker found."""
    return await open_found_problem(
        session, settings, worker, grid_id=entry.grid_id, building_id=entry.building_id,
        description=entry.text or "", latitude=entry.latitude, longitude=entry.longitude,
        files=[FoundFile(AttachmentKind(f.kind.value), f.file_id, f.file_unique_id, f.latitude, f.longitude)
               for f in files],
        now=now, source={"source": "diary", "diary_entry": entry.id},
    )


async def entry_for_case(session: AsyncSession, viewer: User, case_id: int) -> DiaryEntry | None:
    """The diary entry a case came from, if ``viewer`` may read that diary."""
    entry = await session.scalar(select(DiaryEntry).where(DiaryEntry.case_id == case_id).limit(1))
    if entry is None:
        return None
    if entry.worker_id != viewer.id and entry.grid_id not in await overseen_grid_ids(session, viewer):
        return None
    return entry

