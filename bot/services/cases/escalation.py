"""Escalations: time limits, departments called in (吹哨报到) and emergencies.

* Unaccepted past its acceptance limit → the grid heads are alerted (the
  community staff when the grid has none).  Unresolved past its handling limit
  → the community staff (secretary).  The resident is told each time.
* A worker calls a department in with a note; its officers must acknowledge
  within the department's limit (else the worker and the community staff are
  told, the officers reminded) and report back; the worker then finishes.

Emergencies have their own module, :mod:`bot.services.cases.emergency`.

The sweeps claim each case with a compare-and-set on its "escalated at"
column, so two runs (or two processes) never alert twice.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.config import Settings
from bot.services.access import department_ids
from bot.services.cases import texts
from bot.services.cases.common import (
    Capacity,
    actor_role,
    add_event,
    case_cb,
    case_for,
    case_headline,
    clean_text,
    community_staff,
    department_officers,
    esc_cb,
    excerpt,
    tell,
    tell_residents,
    transition,
    unique_users,
)
from bot.services.cases.oversight import alert_text, chain, handle_buttons, next_step
from bot.services.errors import Conflict, NotFound
from bot.services.escape import esc
from bot.services.notify import Button
from bot.services.users import Option
from bot.services.workcalendar import calendar_for
from models import (
    HANDLING_STATUSES,
    ActorRole,
    Case,
    CaseEscalation,
    CaseEventType,
    CaseStatus,
    Department,
    OutboxKind,
    User,
    i18n_name,
)

MAX_NOTE = 2000


# ------------------------------------------------------------------ time limits

async def _claim_overdue(session: AsyncSession, now: datetime, limit: int, in_status: ColumnElement[bool],
                         due: InstrumentedAttribute[datetime | None],
                         escalated: InstrumentedAttribute[datetime | None]) -> AsyncIterator[Case]:
    """The cases ``in_status`` past ``due`` and not yet escalated, oldest first, each claimed
    (``escalated`` set to ``now``, a compare-and-set) just before it is yielded."""
    rows = list(await session.scalars(
        select(Case).where(in_status, due <= now, escalated.is_(None)).order_by(due).limit(limit)))
    for case in rows:
        claimed = await session.execute(
            update(Case).where(Case.id == case.id, in_status, escalated.is_(None))
            .values({escalated: now}).execution_options(synchronize_session=False))
        if claimed.rowcount:
            await session.refresh(case)
            yield case


async def _plan_next(session: AsyncSession, settings: Settings, case: Case, now: datetime,
                     levels: list[list[User]]) -> None:
    """The first level of the chain was told: plan the next one (none when it was the top)."""
    later = await next_step(session, settings, now) if len(levels) > 1 else None
    await session.execute(update(Case).where(Case.id == case.id).values(
        escalation_level=1, escalation_next_at=later).execution_options(synchronize_session=False))
    await session.refresh(case)


async def sweep_accept_overdue(session: AsyncSession, settings: Settings, now: datetime, *, limit: int = 200) -> int:
    done = 0
    async for case in _claim_overdue(session, now, limit, Case.status == CaseStatus.new,
                                     Case.accept_due_at, Case.accept_escalated_at):
        done += 1
        levels = await chain(session, case, "accept")
        targets = levels[0] if levels else []
        # The first level of the chain; the next one is told a step later if nobody acts.
        await _plan_next(session, settings, case, now, levels)
        event = await add_event(session, case, CaseEventType.accept_overdue, at=now,
                                data={"due": case.accept_due_at.isoformat() if case.accept_due_at else None,
                                      "alerted": [u.id for u in targets]})
        line = await case_headline(session, case)

        def render(_, locale, case=case, line=line):  # type: ignore[no-untyped-def]
            return alert_text(_("⏰ Case {number} has not been accepted in time (limit {when}).").format(
                number=case.number, when=texts.when(case.accept_due_at, settings.tz)), case, line(_, locale)), \
                handle_buttons(_, case)

        await tell(session, settings, targets, case=case, event=event, render=render, kind=OutboxKind.reminder)

        def render_resident(_, locale, case=case):  # type: ignore[no-untyped-def]
            return _("⏰ Your case {number} has not been accepted yet. We have alerted the grid head.").format(
                number=case.number), None

        await tell_residents(session, settings, case=case, event=event, render=render_resident)
    return done


async def sweep_handling_overdue(session: AsyncSession, settings: Settings, now: datetime, *,
                                 limit: int = 200) -> int:
    statuses = [CaseStatus.new, *HANDLING_STATUSES]
    done = 0
    async for case in _claim_overdue(session, now, limit, Case.status.in_(statuses),
                                     Case.resolve_due_at, Case.resolve_escalated_at):
        done += 1
        levels = await chain(session, case, "handling")
        staff = levels[0] if levels else []
        if case.status in HANDLING_STATUSES:  # a case still new climbs the acceptance chain instead
            await _plan_next(session, settings, case, now, levels)
        owner = await session.get(User, case.owner_id) if case.owner_id else None
        event = await add_event(session, case, CaseEventType.handling_overdue, at=now,
                                data={"due": case.resolve_due_at.isoformat() if case.resolve_due_at else None,
                                      "alerted": [u.id for u in staff], "status": case.status.value})
        line = await case_headline(session, case)

        def render(_, locale, case=case, line=line, owner=owner):  # type: ignore[no-untyped-def]
            text = _("⏰ Case {number} is past its deadline ({when}).").format(
                number=case.number, when=texts.when(case.resolve_due_at, settings.tz))
            text += "\n" + line(_, locale)
            text += "\n" + _("Status: {status}").format(status=texts.status_label(_, case.status))
            if owner is not None:
                text += "\n" + _("Handled by: {name}").format(name=esc(owner.first_name))
            return text, handle_buttons(_, case)

        await tell(session, settings, staff, case=case, event=event, render=render, kind=OutboxKind.reminder)

        def render_owner(_, locale, case=case):  # type: ignore[no-untyped-def]
            return _("⏰ Case {number} is past its deadline; the community secretary has been told.").format(
                number=case.number), [[Button(_("📄 Details"), case_cb("view", case.id))]]

        await tell(session, settings, [owner] if owner else [], case=case, event=event, render=render_owner,
                   kind=OutboxKind.reminder, tag="owner")

        def render_resident(_, locale, case=case):  # type: ignore[no-untyped-def]
            return _("⏰ Your case {number} is past its deadline. We have told the community secretary.").format(
                number=case.number), None

        await tell_residents(session, settings, case=case, event=event, render=render_resident)
    return done


# ------------------------------------------------------------------ departments

async def departments(session: AsyncSession, locale: str) -> list[Option]:
    rows = await session.scalars(select(Department).where(Department.active).order_by(Department.code))
    return [Option(d.id, d.code, i18n_name(d.names, locale, d.code)) for d in rows]


async def call_department(session: AsyncSession, settings: Settings, actor: User, case_id: int, department_id: int,
                          note: str, now: datetime) -> CaseEscalation:
    """The owner hands the case to a department with a note (吹哨)."""
    case, caps = await case_for(session, actor, case_id, need={Capacity.owner})
    if case.status not in HANDLING_STATUSES:
        raise Conflict("wrong_status", number=case.number or "")
    text = clean_text(note, MAX_NOTE)
    department = await session.get(Department, department_id)
    if department is None or not department.active:
        raise NotFound("department")
    open_one = await session.scalar(select(CaseEscalation.id).where(
        CaseEscalation.case_id == case.id, CaseEscalation.department_id == department.id,
        CaseEscalation.reported_at.is_(None)))
    if open_one is not None:
        raise Conflict("already_escalated", number=case.number or "")
    if case.status == CaseStatus.accepted:
        await transition(session, case, [CaseStatus.accepted], status=CaseStatus.in_progress)
    ack_due = (await calendar_for(session, settings, now=now)).add_working_hours(now, department.ack_hours)
    escalation = CaseEscalation(case_id=case.id, department_id=department.id, requested_by_id=actor.id, note=text,
                                created_at=now, ack_due_at=ack_due)
    session.add(escalation)
    await session.flush()
    event = await add_event(session, case, CaseEventType.dept_called, at=now, actor=actor, role=actor_role(caps),
                            note=text, data={"escalation": escalation.id, "department": department.code,
                                             "ack_due": ack_due.isoformat()})
    line = await case_headline(session, case)

    def render(_, locale):  # type: ignore[no-untyped-def]
        body = _("🏛️ Case {number} needs {department}.").format(
            number=case.number, department=esc(i18n_name(department.names, locale, department.code)))
        body += "\n" + line(_, locale)
        body += "\n" + _("From the grid worker: “{note}”").format(note=esc(excerpt(text, 600)))
        body += "\n" + _("Please acknowledge by {when}.").format(when=texts.when(ack_due, settings.tz))
        return body, [[Button(_("👌 Acknowledge"), esc_cb("ack", escalation.id))],
                      [Button(_("📄 Details"), case_cb("view", case.id))]]

    await tell(session, settings, await department_officers(session, department.id), case=case, event=event,
               render=render)

    def render_resident(_, locale):  # type: ignore[no-untyped-def]
        return _("🏛️ For your case {number} we have called in: {department}.").format(
            number=case.number, department=esc(i18n_name(department.names, locale, department.code))), None

    await tell_residents(session, settings, case=case, event=event, render=render_resident)
    return escalation


async def _escalation_for(session: AsyncSession, officer: User, escalation_id: int) -> tuple[CaseEscalation, Case,
                                                                                               Department]:
    escalation = await session.get(CaseEscalation, escalation_id)
    if escalation is None or escalation.department_id not in department_ids(officer):
        raise NotFound("escalation")
    case = await session.get(Case, escalation.case_id)
    department = await session.get(Department, escalation.department_id)
    assert case is not None and department is not None
    return escalation, case, department


async def reportable(session: AsyncSession, officer: User, escalation_id: int) -> CaseEscalation:
    """The escalation ``officer`` may report back on (their department's, not reported yet)."""
    escalation, case, _department = await _escalation_for(session, officer, escalation_id)
    if escalation.reported_at is not None:
        raise Conflict("already_reported", number=case.number or "")
    return escalation


async def acknowledge_escalation(session: AsyncSession, settings: Settings, officer: User, escalation_id: int,
                                 now: datetime) -> CaseEscalation:
    escalation, case, department = await _escalation_for(session, officer, escalation_id)
    claimed = await session.execute(
        update(CaseEscalation).where(CaseEscalation.id == escalation.id, CaseEscalation.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by_id=officer.id).execution_options(synchronize_session=False))
    await session.refresh(escalation)
    if not claimed.rowcount:
        raise Conflict("already_acknowledged", number=case.number or "")
    event = await add_event(session, case, CaseEventType.dept_acknowledged, at=now, actor=officer,
                            role=ActorRole.department,
                            data={"escalation": escalation.id, "department": department.code,
                                  "on_time": now <= escalation.ack_due_at})
    recipients = unique_users([await session.get(User, case.owner_id) if case.owner_id else None,
                               await session.get(User, escalation.requested_by_id)
                               if escalation.requested_by_id else None])

    def render(_, locale):  # type: ignore[no-untyped-def]
        return _("🏛️ {department} acknowledged case {number}.").format(
            department=esc(i18n_name(department.names, locale, department.code)), number=case.number), [
            [Button(_("📄 Details"), case_cb("view", case.id))]]

    await tell(session, settings, recipients, case=case, event=event, render=render)
    return escalation


async def report_back(session: AsyncSession, settings: Settings, officer: User, escalation_id: int, report: str,
                      now: datetime) -> CaseEscalation:
    """The department reports what it did (报到); the case returns to the worker."""
    escalation, case, department = await _escalation_for(session, officer, escalation_id)
    text = clean_text(report, MAX_NOTE)
    if escalation.acknowledged_at is None:
        await acknowledge_escalation(session, settings, officer, escalation_id, now)
    claimed = await session.execute(
        update(CaseEscalation).where(CaseEscalation.id == escalation.id, CaseEscalation.reported_at.is_(None))
        .values(reported_at=now, reported_by_id=officer.id, report=text).execution_options(synchronize_session=False))
    await session.refresh(escalation)
    if not claimed.rowcount:
        raise Conflict("already_reported", number=case.number or "")
    event = await add_event(session, case, CaseEventType.dept_reported, at=now, actor=officer,
                            role=ActorRole.department, note=text,
                            data={"escalation": escalation.id, "department": department.code})
    recipients = unique_users([await session.get(User, case.owner_id) if case.owner_id else None,
                               await session.get(User, escalation.requested_by_id)
                               if escalation.requested_by_id else None])

    def render(_, locale):  # type: ignore[no-untyped-def]
        body = _("🏛️ {department} reported back on case {number}:").format(
            department=esc(i18n_name(department.names, locale, department.code)), number=case.number)
        body += "\n“" + esc(excerpt(text, 1000)) + "”\n" + _("The case is back with you to finish.")
        return body, [[Button(_("📄 Details"), case_cb("view", case.id))]]

    await tell(session, settings, recipients, case=case, event=event, render=render)

    def render_resident(_, locale):  # type: ignore[no-untyped-def]
        return _("🏛️ {department} has done its part for your case {number}. Your grid worker will finish it.").format(
            department=esc(i18n_name(department.names, locale, department.code)), number=case.number), None

    await tell_residents(session, settings, case=case, event=event, render=render_resident)
    return escalation


async def sweep_department_overdue(session: AsyncSession, settings: Settings, now: datetime, *,
                                   limit: int = 200) -> int:
    rows = list(await session.scalars(
        select(CaseEscalation).where(CaseEscalation.acknowledged_at.is_(None), CaseEscalation.reported_at.is_(None),
                                     CaseEscalation.overdue_alerted_at.is_(None), CaseEscalation.ack_due_at <= now)
        .order_by(CaseEscalation.ack_due_at).limit(limit)))
    done = 0
    for escalation in rows:
        claimed = await session.execute(
            update(CaseEscalation).where(CaseEscalation.id == escalation.id,
                                         CaseEscalation.overdue_alerted_at.is_(None),
                                         CaseEscalation.acknowledged_at.is_(None))
            .values(overdue_alerted_at=now).execution_options(synchronize_session=False))
        if not claimed.rowcount:
            continue
        done += 1
        case = await session.get(Case, escalation.case_id)
        department = await session.get(Department, escalation.department_id)
        assert case is not None and department is not None
        event = await add_event(session, case, CaseEventType.dept_ack_overdue, at=now, public=False,
                                data={"escalation": escalation.id, "department": department.code,
                                      "due": escalation.ack_due_at.isoformat()})

        def render_officer(_, locale, case=case, escalation=escalation, department=department):  # type: ignore[no-untyped-def]
            return _("⏰ Reminder: case {number} is waiting for {department} to acknowledge (limit {when}).").format(
                number=case.number, department=esc(i18n_name(department.names, locale, department.code)),
                when=texts.when(escalation.ack_due_at, settings.tz)), [
                [Button(_("👌 Acknowledge"), esc_cb("ack", escalation.id))],
                [Button(_("📄 Details"), case_cb("view", case.id))]]

        await tell(session, settings, await department_officers(session, department.id), case=case, event=event,
                   render=render_officer, kind=OutboxKind.reminder)
        grid_side = unique_users(
            [await session.get(User, case.owner_id) if case.owner_id else None,
             await session.get(User, escalation.requested_by_id) if escalation.requested_by_id else None],
            await community_staff(session, case.community_id))

        def render_grid(_, locale, case=case, department=department):  # type: ignore[no-untyped-def]
            return _("⏰ {department} has not acknowledged case {number} in time.").format(
                department=esc(i18n_name(department.names, locale, department.code)), number=case.number), [
                [Button(_("📄 Details"), case_cb("view", case.id))]]

        await tell(session, settings, grid_side, case=case, event=event, render=render_grid,
                   kind=OutboxKind.reminder, tag="grid")
    return done
