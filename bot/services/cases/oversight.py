"""Escalations with handles (issue 20): nobody lets a case sit unaccepted for days.

* **Before** the acceptance limit (``CASE_ACCEPT_REMIND_MINUTES`` ahead), the
  grid's workers are reminded once (``accept_reminded_at``).
* **Past** a limit the alert climbs the chain one level at a time: for a case
  nobody accepted, grid heads → community staff → district administrators; for a
  case past its handling deadline, community staff → district administrators.
  The first level is :mod:`bot.services.cases.escalation`'s overdue alert; every
  ``CASE_ESCALATION_STEP_HOURS`` working hours in which nobody acts, the next
  level is told, once (``escalation_level``, ``escalation_next_at``, a
  compare-and-set, and a dedupe key per case, stage and level). At the top it stops.
* **Handles**: a grid head, community staff or a district administrator of the
  case can, from the alert or the card, *assign* it to a worker of its grid,
  *remind* its owner (or, unaccepted, the grid's workers), or *take* it
  themselves. Assigning or reminding is acting: the next level waits one more step
  (for reminders, once per level: reminding every hour does not stop the climb).

Every handle checks, on every press, that the presser oversees the case
(:data:`OVERSEER`); a forged button gets the answer a missing case gets.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import field_grid_ids
from bot.services.cases import texts
from bot.services.cases.common import (
    OVERSEER,
    Capacity,
    actor_role,
    add_event,
    case_cb,
    case_for,
    case_headline,
    community_staff,
    district_admins,
    excerpt,
    grid_heads,
    grid_team,
    tell,
    transition,
)
from bot.services.cases.loop import accept, tell_accepted
from bot.services.errors import Conflict, NotAllowed, NotFound
from bot.services.escape import esc
from bot.services.notify import Button
from bot.services.users import Option
from bot.services.workcalendar import calendar_for
from models import HANDLING_STATUSES, Case, CaseEvent, CaseEventType, CaseStatus, OutboxKind, User

REMIND_GAP = timedelta(hours=1)  # one reminder an hour per case, however many overseers press


def alert_text(head: str, case: Case, line: str) -> str:  # type: ignore[no-untyped-def]
    """An alert about a case: its first line, what and where, and the start of what was written."""
    text = head + "\n" + line
    if case.description:
        text += "\n“" + esc(excerpt(case.description, 200)) + "”"
    return text


def handle_buttons(_, case: Case) -> list[list[Button]]:  # type: ignore[no-untyped-def]
    """The handles of an escalation alert (the services check the presser again)."""
    return [[Button(_("✋ Take it myself"), case_cb("take", case.id))],
            [Button(_("👤 Assign to a worker"), case_cb("asg", case.id))],
            [Button(_("🔔 Remind"), case_cb("rmd", case.id))],
            [Button(_("📄 Details"), case_cb("view", case.id))]]


async def chain(session: AsyncSession, case: Case, stage: str) -> list[list[User]]:
    """The levels told in turn: ``accept`` (grid heads, community staff, district
    administrators) or ``handling`` (community staff, district administrators);
    empty levels are skipped, nobody is told twice, the filer never."""
    groups = [await community_staff(session, case.community_id), await district_admins(session, case.community_id)]
    if stage == "accept":
        groups.insert(0, await grid_heads(session, case.grid_id))
    seen = {case.resident_id}
    levels: list[list[User]] = []
    for group in groups:
        users = [u for u in group if u.id not in seen]
        seen.update(u.id for u in users)
        if users:
            levels.append(users)
    return levels


async def next_step(session: AsyncSession, settings: Settings, now: datetime) -> datetime:
    """When the next level is told if nobody acts: a step of working hours from ``now``."""
    return (await calendar_for(session, settings, now=now)).add_working_hours(now, settings.case_escalation_step_hours)


def stage_of(case: Case) -> str:
    return "accept" if case.status == CaseStatus.new else "handling"


# ------------------------------------------------------------------ the recurring sweeps

async def sweep_accept_reminders(session: AsyncSession, settings: Settings, now: datetime, *,
                                 limit: int = 200) -> int:
    """New cases whose acceptance limit is less than ``CASE_ACCEPT_REMIND_MINUTES`` away: the
    grid's workers are reminded, once.  A case sent inside that window is only marked (its
    new-case notice has just gone out)."""
    if not settings.case_accept_remind_minutes:
        return 0
    lead = timedelta(minutes=settings.case_accept_remind_minutes)
    rows = list(await session.scalars(
        select(Case).where(Case.status == CaseStatus.new, Case.accept_reminded_at.is_(None),
                           Case.accept_due_at > now, Case.accept_due_at <= now + lead)
        .order_by(Case.accept_due_at).limit(limit)))
    done = 0
    for case in rows:
        claimed = await session.execute(
            update(Case).where(Case.id == case.id, Case.status == CaseStatus.new, Case.accept_reminded_at.is_(None))
            .values(accept_reminded_at=now).execution_options(synchronize_session=False))
        if not claimed.rowcount:
            continue
        done += 1
        await session.refresh(case)
        if case.submitted_at is not None and case.accept_due_at is not None \
                and case.submitted_at > case.accept_due_at - lead:
            continue
        event = await add_event(session, case, CaseEventType.accept_reminder, at=now, public=False,
                                data={"due": case.accept_due_at.isoformat() if case.accept_due_at else None})
        line = await case_headline(session, case)

        def render(_, locale, case=case, line=line):  # type: ignore[no-untyped-def]
            text = alert_text(_("⏳ Case {number} still needs a worker: please accept it by {when}.").format(
                number=case.number, when=texts.when(case.accept_due_at, settings.tz)), case, line(_, locale))
            return text, [[Button(_("✅ Accept"), case_cb("acc", case.id))],
                          [Button(_("📄 Details"), case_cb("view", case.id))]]

        team = [u for u in await grid_team(session, case.grid_id) if u.id != case.resident_id]
        await tell(session, settings, team, case=case, event=event, render=render, kind=OutboxKind.reminder,
                   step="accept_reminder")
    return done


async def sweep_climb(session: AsyncSession, settings: Settings, now: datetime, *, limit: int = 200) -> int:
    """Cases already alerted whose next level is due and still nobody acted: that level is
    told (once), and the one after it is planned a step later (none after the top)."""
    rows = list(await session.scalars(
        select(Case).where(Case.escalation_next_at <= now, Case.status.in_([CaseStatus.new, *HANDLING_STATUSES]))
        .order_by(Case.escalation_next_at).limit(limit)))
    done = 0
    for case in rows:
        stage, level, planned = stage_of(case), case.escalation_level + 1, case.escalation_next_at
        levels = await chain(session, case, stage)
        if level > len(levels):  # the top was told already: nothing more to climb
            values = {"escalation_next_at": None}
        else:
            values = {"escalation_level": level,
                      "escalation_next_at": None if level == len(levels) else await next_step(session, settings, now)}
        claimed = await session.execute(
            update(Case).where(Case.id == case.id, Case.escalation_level == case.escalation_level,
                               Case.escalation_next_at == planned)
            .values(**values).execution_options(synchronize_session=False))
        await session.refresh(case)
        if not claimed.rowcount or level > len(levels):
            continue
        done += 1
        targets = levels[level - 1]
        owner = await session.get(User, case.owner_id) if case.owner_id else None
        event = await add_event(session, case, CaseEventType.escalated, at=now, public=False,
                                data={"stage": stage, "level": level, "alerted": [u.id for u in targets]})
        line = await case_headline(session, case)

        def render(_, locale, case=case, line=line, owner=owner, stage=stage):  # type: ignore[no-untyped-def]
            if stage == "accept":
                text = _("⏫ Case {number} has still not been accepted (limit {when}); nobody below you has "
                         "acted.").format(number=case.number, when=texts.when(case.accept_due_at, settings.tz))
            else:
                text = _("⏫ Case {number} is still past its deadline ({when}); nobody below you has acted.").format(
                    number=case.number, when=texts.when(case.resolve_due_at, settings.tz))
            text += "\n" + line(_, locale)
            if owner is not None:
                text += "\n" + _("Handled by: {name}").format(name=esc(owner.first_name))
            return text, handle_buttons(_, case)

        await tell(session, settings, targets, case=case, event=event, render=render, kind=OutboxKind.reminder,
                   step=f"climb:{stage}:{level}")
    return done


# ------------------------------------------------------------------ the handles

async def _overseen(session: AsyncSession, actor: User, case_id: int) -> tuple[Case, set[Capacity]]:
    case, caps = await case_for(session, actor, case_id, need=OVERSEER)
    if case.status not in (CaseStatus.new, *HANDLING_STATUSES):
        raise Conflict("case_closed" if case.status == CaseStatus.closed else "wrong_status",
                       number=case.number or "")
    return case, caps


async def assignees(session: AsyncSession, actor: User, case_id: int) -> tuple[Case, list[Option]]:
    """The case and the workers of its grid it can be given to (not its filer, not its owner)."""
    case, _caps = await _overseen(session, actor, case_id)
    team = [u for u in await grid_team(session, case.grid_id) if u.id not in (case.resident_id, case.owner_id)]
    return case, [Option(u.id, str(u.id), u.first_name or "—") for u in team]


async def assign(session: AsyncSession, settings: Settings, actor: User, case_id: int, worker_id: int,
                 now: datetime) -> Case:
    """Give the case to a worker of its grid (a grid head, community staff or administrator of it)."""
    case, caps = await _overseen(session, actor, case_id)
    worker = await session.get(User, worker_id)
    if worker is None or case.grid_id not in field_grid_ids(worker):
        raise NotFound("worker")
    return await _give(session, settings, actor, caps, case, worker, now)


async def take(session: AsyncSession, settings: Settings, actor: User, case_id: int, now: datetime) -> Case:
    """The overseer takes the case themselves (a secretary included: she then works it as its owner)."""
    case, caps = await _overseen(session, actor, case_id)
    if case.status == CaseStatus.new and Capacity.grid in caps:
        return await accept(session, settings, actor, case.id, now)  # a grid head accepts as any worker would
    return await _give(session, settings, actor, caps, case, actor, now)


async def _give(session: AsyncSession, settings: Settings, actor: User, caps: set[Capacity], case: Case,
                worker: User, now: datetime) -> Case:
    if worker.id == case.resident_id:
        raise NotAllowed("own_case", number=case.number or "")
    if case.owner_id == worker.id:
        raise Conflict("already_yours" if worker.id == actor.id else "already_theirs", number=case.number or "")
    before = case.owner_id
    if case.status == CaseStatus.new:
        if not await transition(session, case, [CaseStatus.new], status=CaseStatus.accepted, owner_id=worker.id,
                                accepted_at=now, escalation_level=0, escalation_next_at=None):
            raise Conflict("case_taken", number=case.number or "")
        event = await add_event(session, case, CaseEventType.accepted, at=now, actor=actor, role=actor_role(caps),
                                data={"accept_due": case.accept_due_at.isoformat() if case.accept_due_at else None,
                                      "on_time": bool(case.accept_due_at is None or now <= case.accept_due_at),
                                      "owner": worker.id, "assigned_by": actor.id})
        await tell_accepted(session, settings, case, event)
    else:
        statuses = [s for s in HANDLING_STATUSES if s == case.status]
        # A new owner is acting: the next level (if one is planned) waits a step more.
        later = await next_step(session, settings, now) if case.escalation_next_at else None
        if not await transition(session, case, statuses, owner_id=worker.id, escalation_next_at=later):
            raise Conflict("wrong_status", number=case.number or "")
        event = await add_event(session, case, CaseEventType.assigned, at=now, actor=actor, role=actor_role(caps),
                                public=False, data={"owner": worker.id, "before": before})
    line = await case_headline(session, case)

    def render_new(_, locale):  # type: ignore[no-untyped-def]
        text = _("👤 {name} gave you case {number}. It should be done by {when}.").format(
            name=esc(actor.first_name or ""), number=case.number, when=texts.when(case.resolve_due_at, settings.tz))
        return text + "\n" + line(_, locale), [[Button(_("📄 Details"), case_cb("view", case.id))]]

    if worker.id != actor.id:
        await tell(session, settings, [worker], case=case, event=event, render=render_new, tag="owner")
    old = await session.get(User, before) if before and before != actor.id else None

    def render_old(_, locale):  # type: ignore[no-untyped-def]
        return _("👤 Case {number} has been given to {name}; you no longer handle it.").format(
            number=case.number, name=esc(worker.first_name or "")), None

    await tell(session, settings, [old] if old else [], case=case, event=event, render=render_old, tag="before")
    return case


async def _reminded_at_this_level(session: AsyncSession, case_id: int, last_reminder: datetime | None) -> bool:
    """Whether the case's last reminder came since the level it has reached was told
    (the first alert past a limit, or a climb)."""
    if last_reminder is None:
        return False
    told = await session.scalar(select(CaseEvent.at).where(CaseEvent.case_id == case_id,
                                                           CaseEvent.type.in_(_LEVEL_TOLD))
                                .order_by(CaseEvent.at.desc()).limit(1))
    return told is not None and last_reminder >= told


_LEVEL_TOLD = (CaseEventType.accept_overdue, CaseEventType.handling_overdue, CaseEventType.escalated)


async def remind(session: AsyncSession, settings: Settings, actor: User, case_id: int, now: datetime) -> list[User]:
    """Remind the owner (or, unaccepted, the grid's workers) from an overseer; at most once
    an hour per case.  Returns who was reminded."""
    case, caps = await _overseen(session, actor, case_id)
    last = await session.scalar(select(CaseEvent.at).where(CaseEvent.case_id == case.id,
                                                           CaseEvent.type == CaseEventType.reminded)
                                .order_by(CaseEvent.at.desc()).limit(1))
    if last is not None and now - last < REMIND_GAP:
        raise Conflict("recently_reminded", number=case.number or "",
                       minutes=int((REMIND_GAP - (now - last)).total_seconds() // 60) + 1)
    owner = await session.get(User, case.owner_id) if case.owner_id else None
    targets = [owner] if owner is not None else [
        u for u in await grid_team(session, case.grid_id) if u.id not in (case.resident_id, actor.id)]
    if not targets:
        raise NotFound("worker")
    # Someone acted: the next level waits a step more, once per level (reminders alone, pressed
    # every hour, must not keep a case from climbing while nobody takes it in hand).
    if case.escalation_next_at is not None and not await _reminded_at_this_level(session, case.id, last):
        later = max(case.escalation_next_at, await next_step(session, settings, now))  # never sooner
        await session.execute(update(Case).where(Case.id == case.id).values(
            escalation_next_at=later).execution_options(synchronize_session=False))
        await session.refresh(case)
    event = await add_event(session, case, CaseEventType.reminded, at=now, actor=actor, role=actor_role(caps),
                            public=False, data={"to": [u.id for u in targets]})
    line = await case_headline(session, case)

    def render(_, locale):  # type: ignore[no-untyped-def]
        if owner is not None:
            text = _("🔔 {name} reminds you of case {number} (to be done by {when}).").format(
                name=esc(actor.first_name or ""), number=case.number,
                when=texts.when(case.resolve_due_at, settings.tz))
            buttons = [[Button(_("📄 Details"), case_cb("view", case.id))]]
        else:
            text = _("🔔 {name} asks the grid to accept case {number} (limit {when}).").format(
                name=esc(actor.first_name or ""), number=case.number,
                when=texts.when(case.accept_due_at, settings.tz))
            buttons = [[Button(_("✅ Accept"), case_cb("acc", case.id))],
                       [Button(_("📄 Details"), case_cb("view", case.id))]]
        return text + "\n" + line(_, locale), buttons

    await tell(session, settings, targets, case=case, event=event, render=render, kind=OutboxKind.reminder)
    return targets
