"""Emergencies: a resident, or a worker of the grid, flags an open case as an
emergency; every worker of the grid, its grid heads and the community staff are
alerted at once, then again every few minutes (adding the district
administrators) until someone takes charge.

Taking charge of a new case also accepts it, and accepting an emergency takes
charge of it: :func:`bot.services.cases.loop.acknowledge_emergency` and
:func:`bot.services.cases.loop.accept` do both with :func:`take_charge` and
:func:`tell_taken` from here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.cases import texts
from bot.services.cases.common import (
    WORKER_SIDE,
    Capacity,
    actor_role,
    add_event,
    case_cb,
    case_for,
    case_headline,
    community_staff,
    district_admins,
    excerpt,
    grid_team,
    tell,
    tell_residents,
    unique_users,
)
from bot.services.cases.limits import check_emergency
from bot.services.errors import Conflict
from bot.services.escape import esc
from bot.services.notify import Button
from models import OPEN_STATUSES, Building, Case, CaseEvent, CaseEventType, OutboxKind, User


async def _emergency_chain(session: AsyncSession, case: Case, level: int) -> list[User]:
    team = await grid_team(session, case.grid_id)
    staff = await community_staff(session, case.community_id)
    admins = await district_admins(session, case.community_id) if level >= 1 else []
    return unique_users(team, staff, admins)


async def _alert(session: AsyncSession, settings: Settings, case: Case, level: int, now: datetime) -> int:
    recipients = await _emergency_chain(session, case, level)
    event = await add_event(session, case, CaseEventType.emergency_alerted, at=now, public=False,
                            data={"level": level, "recipients": [u.id for u in recipients]})
    line = await case_headline(session, case)
    resident = await session.get(User, case.resident_id)
    building_address = None
    if case.building_id is not None:
        building = await session.get(Building, case.building_id)
        building_address = building.address if building else None

    def render(_, locale):  # type: ignore[no-untyped-def]
        if level == 0:
            head = _("🆘 EMERGENCY · case {number}").format(number=case.number)
        else:
            head = _("🆘 EMERGENCY, STILL NOT ACKNOWLEDGED (alert {level}) · case {number}").format(
                level=level + 1, number=case.number)
        body = [head, line(_, locale)]
        if building_address:
            body.append("📍 " + esc(building_address))
        if resident is not None:
            body.append(_("Resident: {name}").format(name=esc(resident.first_name)))
        if case.description:
            body.append("“" + esc(excerpt(case.description, 400)) + "”")
        body.append(_.ngettext("Tap “I'm on it” when you take charge; alerts repeat every {minutes} minute until "
                               "someone does.",
                               "Tap “I'm on it” when you take charge; alerts repeat every {minutes} minutes until "
                               "someone does.", settings.emergency_repeat_minutes).format(
            minutes=settings.emergency_repeat_minutes))
        return "\n".join(body), [[Button(_("🆘 I'm on it"), case_cb("eack", case.id))],
                                 [Button(_("📄 Details"), case_cb("view", case.id))]]

    # One alert per person per step: the step is this level of this emergency (flagged at emergency_at).
    flagged_at = int(case.emergency_at.timestamp()) if case.emergency_at else 0
    return await tell(session, settings, recipients, case=case, event=event, render=render,
                      kind=OutboxKind.emergency, step=f"emergency:{flagged_at}:L{level}")


async def raise_emergency(session: AsyncSession, settings: Settings, case: Case, actor: User, caps: set[Capacity],
                          now: datetime) -> None:
    """Mark ``case`` an emergency and alert the chain at once."""
    if case.status not in OPEN_STATUSES:
        raise Conflict("case_closed", number=case.number or "")
    if case.emergency and case.emergency_ack_at is None:
        raise Conflict("already_emergency", number=case.number or "")
    await check_emergency(session, settings, case, actor, as_resident=Capacity.resident in caps, now=now)
    repeat = timedelta(minutes=settings.emergency_repeat_minutes)
    await session.execute(update(Case).where(Case.id == case.id).values(
        emergency=True, emergency_at=now, emergency_level=0, emergency_next_at=now + repeat,
        emergency_ack_at=None, emergency_ack_by_id=None).execution_options(synchronize_session=False))
    await session.refresh(case)
    flagged = await add_event(session, case, CaseEventType.emergency_flagged, at=now, actor=actor,
                              role=actor_role(caps))
    await _alert(session, settings, case, 0, now)
    if Capacity.resident not in caps:
        def render(_, locale):  # type: ignore[no-untyped-def]
            return (_("🆘 Your case {number} has been marked as an emergency; the grid team has been alerted.")
                    .format(number=case.number) + "\n\n" + texts.emergency_numbers(_)), None

        await tell_residents(session, settings, case=case, event=flagged, render=render, kind=OutboxKind.emergency)


async def flag_emergency(session: AsyncSession, settings: Settings, actor: User, case_id: int, now: datetime) -> Case:
    """A resident, or a worker of the grid, flags an open case as an emergency."""
    case, caps = await case_for(session, actor, case_id,
                                need={Capacity.resident, Capacity.owner, Capacity.grid, Capacity.staff})
    await raise_emergency(session, settings, case, actor, caps, now)
    return case


async def take_charge(session: AsyncSession, actor: User, case_id: int, now: datetime,
                      ) -> tuple[Case, set[Capacity], CaseEvent]:
    """Someone alerted takes charge: the alerts stop (a compare-and-set, so one
    person wins) and the timeline says so.  Followed by :func:`tell_taken`."""
    case, caps = await case_for(session, actor, case_id, need=WORKER_SIDE)
    if not case.emergency:
        raise Conflict("not_emergency", number=case.number or "")
    claimed = await session.execute(
        update(Case).where(Case.id == case.id, Case.emergency.is_(True), Case.emergency_ack_at.is_(None))
        .values(emergency_ack_at=now, emergency_ack_by_id=actor.id, emergency_next_at=None)
        .execution_options(synchronize_session=False))
    await session.refresh(case)
    if not claimed.rowcount:
        raise Conflict("emergency_acknowledged", number=case.number or "")
    event = await add_event(session, case, CaseEventType.emergency_acknowledged, at=now, actor=actor,
                            role=actor_role(caps),
                            data={"seconds": int((now - case.emergency_at).total_seconds()) if case.emergency_at
                                  else None, "level": case.emergency_level})
    return case, caps, event


async def tell_taken(session: AsyncSession, settings: Settings, actor: User, case: Case, caps: set[Capacity],
                     event: CaseEvent) -> None:
    """Tell the resident that help is on the way, and the others alerted who took charge."""
    role = actor_role(caps)

    def render_resident(_, locale):  # type: ignore[no-untyped-def]
        who = texts.actor_label(_, role, for_resident=True)
        return _("🆘 Help is on the way: the {who} has taken charge of case {number}.").format(
            who=who, number=case.number), None

    await tell_residents(session, settings, case=case, event=event, render=render_resident, kind=OutboxKind.emergency)
    others = [u for u in await _emergency_chain(session, case, case.emergency_level) if u.id != actor.id]

    def render_others(_, locale):  # type: ignore[no-untyped-def]
        return _("✅ Emergency {number} acknowledged by {name}.").format(number=case.number,
                                                                         name=esc(actor.first_name)), [
            [Button(_("📄 Details"), case_cb("view", case.id))]]

    await tell(session, settings, others, case=case, event=event, render=render_others, tag="others")


async def emergency_tick(session: AsyncSession, settings: Settings, now: datetime, *, limit: int = 100) -> int:
    """Repeat unacknowledged emergencies up the chain (every EMERGENCY_REPEAT_MINUTES)."""
    rows = list(await session.scalars(
        select(Case).where(Case.emergency.is_(True), Case.emergency_ack_at.is_(None),
                           Case.emergency_next_at <= now, Case.status.in_(OPEN_STATUSES))
        .order_by(Case.emergency_next_at).limit(limit)))
    repeat = timedelta(minutes=settings.emergency_repeat_minutes)
    done = 0
    for case in rows:
        level = case.emergency_level + 1
        claimed = await session.execute(
            update(Case).where(Case.id == case.id, Case.emergency_level == case.emergency_level,
                               Case.emergency_ack_at.is_(None))
            .values(emergency_level=level, emergency_next_at=now + repeat)
            .execution_options(synchronize_session=False))
        if not claimed.rowcount:
            continue
        await session.refresh(case)
        await _alert(session, settings, case, level, now)
        done += 1
    return done

