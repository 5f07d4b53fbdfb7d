"""The closed loop (闭环处理): accept → in progress → resolved → confirmed and
closed, or "not solved" and reopened (返工); resolved cases nobody answers
close themselves; then the resident rates.

Every step is a compare-and-set on the case's status (two people pressing at
once: one wins, the other is told), an event on the timeline and the
notifications it causes, all in the caller's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.cases import texts
from bot.services.cases.common import (
    Capacity,
    FileRef,
    Media,
    actor_role,
    add_event,
    case_cb,
    case_for,
    checker_caps,
    clean_text,
    community_staff,
    excerpt,
    found_on_patrol,
    grid_team,
    refuse_own_case,
    tell,
    tell_followers,
    tell_residents,
    transition,
)
from bot.services.cases.emergency import take_charge, tell_taken
from bot.services.errors import Conflict, InvalidInput, NotAllowed
from bot.services.escape import esc
from bot.services.notify import Button
from bot.services.workcalendar import calendar_for
from models import (
    HANDLING_STATUSES,
    OPEN_STATUSES,
    ActorRole,
    AttachmentKind,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseEventType,
    CaseHandover,
    CaseKind,
    CaseRating,
    CaseStatus,
    CloseReason,
    OutboxKind,
    ServiceItem,
    User,
)

MAX_NOTE = 2000
MAX_COMMENT = 1000


def _taken(case: Case, actor: User) -> Conflict:
    if case.owner_id == actor.id:
        return Conflict("already_yours", number=case.number or "")
    if case.status == CaseStatus.closed:
        return Conflict("case_closed", number=case.number or "")
    return Conflict("case_taken", number=case.number or "")


async def accept(session: AsyncSession, settings: Settings, actor: User, case_id: int, now: datetime) -> Case:
    """The first worker of the grid to accept owns the case."""
    case, caps = await case_for(session, actor, case_id, need={Capacity.grid})
    refuse_own_case(case, actor)
    if case.status != CaseStatus.new:
        raise _taken(case, actor)
    if not await transition(session, case, [CaseStatus.new], status=CaseStatus.accepted, owner_id=actor.id,
                            accepted_at=now, escalation_level=0, escalation_next_at=None):
        raise _taken(case, actor)
    event = await add_event(session, case, CaseEventType.accepted, at=now, actor=actor, role=actor_role(caps),
                            data={"accept_due": case.accept_due_at.isoformat() if case.accept_due_at else None,
                                  "on_time": bool(case.accept_due_at is None or now <= case.accept_due_at)})
    if case.emergency and case.emergency_ack_at is None:
        # Accepting an emergency takes charge of it (as its owner, now).
        await tell_taken(session, settings, actor, *await take_charge(session, actor, case.id, now))
    await tell_accepted(session, settings, case, event)
    return case


async def tell_accepted(session: AsyncSession, settings: Settings, case: Case, event: CaseEvent) -> None:
    """The resident hears that their case was accepted (by a worker, or given to one), and by
    whom: the worker's given name, never their account (issue 20)."""
    owner = await session.get(User, case.owner_id) if case.owner_id else None
    name = owner.first_name if owner is not None else ""

    def render(_, locale):  # type: ignore[no-untyped-def]
        text = _("👷 {name}, your grid worker, has accepted your case {number}. It should be done by {when}. "
                 "Tap 💬 below to write to them.").format(
            name=esc(name), number=case.number, when=texts.when(case.resolve_due_at, settings.tz))
        return text, [[Button(_("💬 Write to your worker"), case_cb("chat", case.id))],
                      [Button(_("📄 Details"), case_cb("view", case.id))]]

    await tell_residents(session, settings, case=case, event=event, render=render)


async def acknowledge_emergency(session: AsyncSession, settings: Settings, actor: User, case_id: int,
                                now: datetime) -> Case:
    """Someone alerted takes charge: the alerts stop; a grid worker also accepts a new case
    (here, next to :func:`accept`, because each calls the other)."""
    case, caps, event = await take_charge(session, actor, case_id, now)
    if case.status == CaseStatus.new and Capacity.grid in caps and case.resident_id != actor.id:
        try:
            await accept(session, settings, actor, case.id, now)
        except Conflict:
            pass  # a colleague accepted it a moment ago: the acknowledgement stands
    await tell_taken(session, settings, actor, case, caps, event)
    return case


async def start_work(session: AsyncSession, settings: Settings, actor: User, case_id: int, now: datetime) -> Case:
    case, caps = await case_for(session, actor, case_id, need={Capacity.owner})
    if case.status == CaseStatus.in_progress:
        raise Conflict("already_started", number=case.number or "")
    if not await transition(session, case, [CaseStatus.accepted, CaseStatus.reopened],
                            status=CaseStatus.in_progress):
        raise Conflict("wrong_status", number=case.number or "")
    event = await add_event(session, case, CaseEventType.started, at=now, actor=actor, role=actor_role(caps))

    def render(_, locale):  # type: ignore[no-untyped-def]
        return _("🔧 Your grid worker has started work on case {number}.").format(number=case.number), None

    await tell_residents(session, settings, case=case, event=event, render=render)
    return case


def resolution_note(note: str | None) -> str:
    """What was done, as :func:`resolve` takes it (``InvalidInput`` when empty or too long)."""
    text = clean_text(note, MAX_NOTE)
    assert text is not None
    return text


async def resolve(session: AsyncSession, settings: Settings, actor: User, case_id: int, note: str,
                  photo: FileRef | None, now: datetime) -> Case:
    """The owner says it is done, with a note (and a photo); the resident is asked."""
    case, caps = await case_for(session, actor, case_id, need={Capacity.owner})
    found = await found_on_patrol(session, case)
    if not found:  # a problem found on patrol is fixed by its finder and checked by a colleague
        refuse_own_case(case, actor)
    text = resolution_note(note)
    if photo is not None and photo.kind != AttachmentKind.photo:
        raise InvalidInput("photo_only")
    if not await transition(session, case, HANDLING_STATUSES, status=CaseStatus.resolved, resolved_at=now,
                            resolution=text):
        raise Conflict("wrong_status", number=case.number or "")
    on_time = bool(case.resolve_due_at is None or now <= case.resolve_due_at)
    event = await add_event(session, case, CaseEventType.resolved, at=now, actor=actor, role=actor_role(caps),
                            note=text, data={"due": case.resolve_due_at.isoformat() if case.resolve_due_at else None,
                                             "on_time": on_time, "rework": case.reopen_count})
    media = None
    if photo is not None:
        session.add(CaseAttachment(case_id=case.id, event_id=event.id, uploaded_by_id=actor.id, kind=photo.kind,
                                   file_id=photo.file_id, file_unique_id=photo.file_unique_id, phase="resolution",
                                   created_at=now))
        media = Media("photo", photo.file_id)
    handovers = list(await session.scalars(select(CaseHandover).where(CaseHandover.case_id == case.id)
                                           .order_by(CaseHandover.id)))
    resident = await session.get(User, case.resident_id)
    if found:
        await _ask_checkers(session, settings, case, event, text, resident, media)
        return case

    def render(_, locale):  # type: ignore[no-untyped-def]
        lines = [_("✅ Your grid worker says case {number} is done:").format(number=case.number),
                 "“" + esc(excerpt(text, 600)) + "”"]
        if handovers:
            lines.append(_("Documents that changed hands:"))
            lines.extend(texts.handover_line(_, h) for h in handovers)
        if case.kind == CaseKind.proxy:
            lines.append(_("If everything was done and you have your documents back, tap “Solved” to sign off."))
            solved = _("✅ Solved, I sign off")
        else:
            lines.append(_("Is your matter solved?"))
            solved = _("✅ Solved")
        lines.append(_.ngettext("If you do not answer, it closes by itself after {days} day.",
                                "If you do not answer, it closes by itself after {days} days.",
                                settings.case_auto_close_days).format(days=settings.case_auto_close_days))
        return "\n".join(lines), [[Button(solved, case_cb("ok", case.id))],
                                  [Button(_("❌ Not solved"), case_cb("nok", case.id))]]

    await tell(session, settings, [resident] if resident else [], case=case, event=event, render=render,
               media=media)

    await tell_followers(session, settings, case=case, event=event)
    return case


def _checkers_render(case: Case, text: str, settings: Settings):  # type: ignore[no-untyped-def]
    def render(_, locale):  # type: ignore[no-untyped-def]
        lines = [_("✅ Case {number}, a problem found on patrol, is marked as done:").format(number=case.number),
                 "“" + esc(excerpt(text, 600)) + "”",
                 _.ngettext("Please check it (not the one who found it, nor the one who fixed it). If nobody "
                            "answers, it closes by itself after {days} day.",
                            "Please check it (not the one who found it, nor the one who fixed it). If nobody "
                            "answers, it closes by itself after {days} days.",
                            settings.case_auto_close_days).format(days=settings.case_auto_close_days)]
        return "\n".join(lines), [[Button(_("✅ Solved"), case_cb("ok", case.id))],
                                  [Button(_("❌ Not solved"), case_cb("nok", case.id))]]
    return render


async def _ask_checkers(session: AsyncSession, settings: Settings, case: Case, event: CaseEvent, text: str,
                        filer: User | None, media: Media | None) -> None:
    """A found problem marked done: a colleague checks it, the grid's team but
    the filer and the owner (or, when there is none, the community staff)."""
    exclude = {case.resident_id, case.owner_id}
    checkers = [u for u in await grid_team(session, case.grid_id) if u.id not in exclude]
    if not checkers:
        checkers = [u for u in await community_staff(session, case.community_id) if u.id not in exclude]
    await tell(session, settings, checkers, case=case, event=event, render=_checkers_render(case, text, settings),
               media=media)

    def render_filer(_, locale):  # type: ignore[no-untyped-def]
        return _("✅ Case {number} that you found on patrol is marked as done; a colleague will check it.").format(
            number=case.number), None

    await tell(session, settings, [filer] if filer and filer.id != case.owner_id else [], case=case, event=event,
               render=render_filer)


async def _confirmer(session: AsyncSession, actor: User, case_id: int) -> tuple[Case, ActorRole]:
    """Who may say "solved" / "not solved": the resident of their own case (not
    its owner); for a problem found on patrol, a colleague of the grid (its
    workers and head, community staff, district admins) who neither found nor fixed it."""
    case, caps = await case_for(session, actor, case_id)
    if await found_on_patrol(session, case):
        if not checker_caps(caps) or actor.id in (case.resident_id, case.owner_id):
            raise NotAllowed("not_checker", number=case.number or "")
        return case, actor_role(checker_caps(caps))
    if Capacity.resident not in caps:
        raise NotAllowed()
    if case.owner_id == actor.id:
        raise NotAllowed("own_case", number=case.number or "")
    return case, ActorRole.resident


async def _notify_owner(session: AsyncSession, settings: Settings, case: Case, event: CaseEvent, render,  # type: ignore[no-untyped-def]
                        kind: OutboxKind = OutboxKind.case_update, tag: str = "") -> None:
    if case.owner_id is None:
        return
    owner = await session.get(User, case.owner_id)
    await tell(session, settings, [owner] if owner else [], case=case, event=event, render=render, kind=kind,
               tag=tag)


async def confirm(session: AsyncSession, settings: Settings, resident: User, case_id: int, now: datetime) -> Case:
    """The resident says "solved": the case closes (for proxy errands, their sign-off).
    A problem found on patrol is confirmed by a colleague instead (:func:`_confirmer`)."""
    case, role = await _confirmer(session, resident, case_id)
    if case.status == CaseStatus.closed:
        raise Conflict("case_closed", number=case.number or "")
    if not await transition(session, case, [CaseStatus.resolved], status=CaseStatus.closed, closed_at=now,
                            close_reason=CloseReason.confirmed):
        raise Conflict("wrong_status", number=case.number or "")
    event = await add_event(session, case, CaseEventType.confirmed, at=now, actor=resident, role=role,
                            data={"sign_off": case.kind == CaseKind.proxy})

    def render(_, locale):  # type: ignore[no-untyped-def]
        if role != ActorRole.resident:
            return _("👍 Case {number} was checked by a colleague: solved. Thank you!").format(
                number=case.number), None
        if case.kind == CaseKind.proxy:
            return _("👍 The resident signed off case {number}: solved. Thank you!").format(number=case.number), None
        return _("👍 The resident confirmed case {number} is solved. Thank you!").format(number=case.number), None

    await _notify_owner(session, settings, case, event, render)
    await tell_followers(session, settings, case=case, event=event)
    return case


async def reopen(session: AsyncSession, settings: Settings, resident: User, case_id: int, now: datetime) -> Case:
    """The resident says "not solved": back to the owner, counted as rework (返工).
    A problem found on patrol: its checker says so (:func:`_confirmer`)."""
    case, role = await _confirmer(session, resident, case_id)
    service = await session.get(ServiceItem, case.service_id) if case.service_id else None
    hours = service.resolve_hours if service else settings.case_default_resolve_hours
    due = (await calendar_for(session, settings, now=now)).add_working_hours(now, hours)
    if not await transition(session, case, [CaseStatus.resolved], status=CaseStatus.reopened, resolved_at=None,
                            reopen_count=case.reopen_count + 1, resolve_due_at=due, resolve_escalated_at=None,
                            escalation_level=0, escalation_next_at=None):
        if case.status == CaseStatus.closed:
            raise Conflict("case_closed", number=case.number or "")
        raise Conflict("wrong_status", number=case.number or "")
    event = await add_event(session, case, CaseEventType.reopened, at=now, actor=resident, role=role,
                            data={"resolve_due": due.isoformat(), "count": case.reopen_count})

    def render(_, locale):  # type: ignore[no-untyped-def]
        if role != ActorRole.resident:
            text = _("↩️ Case {number} was checked by a colleague: NOT solved. It is open again; new deadline "
                     "{when}.").format(number=case.number, when=texts.when(due, settings.tz))
            return text, [[Button(_("📄 Details"), case_cb("view", case.id))]]
        text = _("↩️ The resident says case {number} is NOT solved. It is open again; new deadline {when}.").format(
            number=case.number, when=texts.when(due, settings.tz))
        return text, [[Button(_("💬 Message the resident"), case_cb("chat", case.id))],
                      [Button(_("📄 Details"), case_cb("view", case.id))]]

    await _notify_owner(session, settings, case, event, render)
    await tell_followers(session, settings, case=case, event=event)
    return case


async def withdrawable(session: AsyncSession, resident: User, case_id: int) -> Case:
    """The resident's case if they may withdraw it now (asked before the question
    "withdraw this case?", and again by :func:`withdraw`); raises otherwise."""
    case, _caps = await case_for(session, resident, case_id, need={Capacity.resident})
    if case.status not in _WITHDRAWABLE:
        raise _withdraw_refused(case)
    return case


_WITHDRAWABLE = (CaseStatus.new, *HANDLING_STATUSES)


def _withdraw_refused(case: Case) -> Conflict:
    return Conflict("case_closed" if case.status == CaseStatus.closed else "wrong_status", number=case.number or "")


async def withdraw(session: AsyncSession, settings: Settings, resident: User, case_id: int, now: datetime) -> Case:
    case = await withdrawable(session, resident, case_id)
    if not await transition(session, case, list(_WITHDRAWABLE), status=CaseStatus.closed,
                            closed_at=now, close_reason=CloseReason.withdrawn, emergency_next_at=None):
        raise _withdraw_refused(case)  # changed meanwhile
    event = await add_event(session, case, CaseEventType.withdrawn, at=now, actor=resident, role=ActorRole.resident)

    def render(_, locale):  # type: ignore[no-untyped-def]
        return _("🗑 The resident withdrew case {number}. Nothing more to do.").format(number=case.number), None

    await _notify_owner(session, settings, case, event, render)
    await tell_followers(session, settings, case=case, event=event)
    return case


def rating_buttons(case_id: int) -> list[list[Button]]:
    return [[Button(f"{texts.stars(n)} {n}", case_cb("rate", case_id, n))] for n in range(5, 0, -1)]


async def rateable(session: AsyncSession, resident: User, case_id: int) -> Case:
    """The resident's case if they may rate it now (asked before the stars are
    offered, and again by :func:`rate`); raises otherwise."""
    case, _caps = await case_for(session, resident, case_id, need={Capacity.resident})
    if case.owner_id == resident.id or await found_on_patrol(session, case):
        # Separation of duties: nobody rates their own work, and a problem a
        # worker found is not a resident's satisfaction.
        raise NotAllowed("not_rated_here", number=case.number or "")
    if case.status != CaseStatus.closed:
        raise Conflict("not_closed", number=case.number or "")
    if case.close_reason == CloseReason.withdrawn:  # nothing was done to rate
        raise Conflict("case_closed", number=case.number or "")
    if await session.scalar(select(CaseRating.id).where(CaseRating.case_id == case.id)) is not None:
        raise Conflict("already_rated", number=case.number or "")
    return case


async def rate(session: AsyncSession, settings: Settings, resident: User, case_id: int, score: int,
               now: datetime) -> Case:
    if not 1 <= score <= 5:
        raise InvalidInput("bad_score")
    case = await rateable(session, resident, case_id)
    session.add(CaseRating(case_id=case.id, resident_id=resident.id, score=score, created_at=now))
    await session.flush()
    event = await add_event(session, case, CaseEventType.rated, at=now, actor=resident, role=ActorRole.resident,
                            data={"score": score})

    def render(_, locale):  # type: ignore[no-untyped-def]
        return _("{stars} The resident rated case {number}: {score}/5.").format(
            stars=texts.stars(score), number=case.number, score=score), None

    await _notify_owner(session, settings, case, event, render)
    return case


async def comment_rating(session: AsyncSession, settings: Settings, resident: User, case_id: int, comment: str,
                         now: datetime) -> Case:
    case, _caps = await case_for(session, resident, case_id, need={Capacity.resident})
    text = clean_text(comment, MAX_COMMENT)
    rating = await session.scalar(select(CaseRating).where(CaseRating.case_id == case.id))
    if rating is None:
        raise Conflict("not_rated", number=case.number or "")
    if rating.comment:
        raise Conflict("already_commented", number=case.number or "")
    rating.comment = text
    event = await session.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id,
                                                         CaseEvent.type == CaseEventType.rated))
    if event is not None:
        event.note = text
    await session.flush()

    def render(_, locale):  # type: ignore[no-untyped-def]
        return _("💬 The resident's comment on case {number}: “{comment}”").format(
            number=case.number, comment=esc(excerpt(text, 600))), None

    if event is not None:
        await _notify_owner(session, settings, case, event, render, tag="comment")
    return case


async def auto_close_due(session: AsyncSession, settings: Settings, now: datetime, *, limit: int = 200) -> int:
    """Close resolved cases the resident has not answered for ``CASE_AUTO_CLOSE_DAYS``."""
    cutoff = now - timedelta(days=settings.case_auto_close_days)
    due = list(await session.scalars(
        select(Case).where(Case.status == CaseStatus.resolved, Case.resolved_at <= cutoff)
        .order_by(Case.resolved_at).limit(limit)))
    closed = 0
    for case in due:
        if not await transition(session, case, [CaseStatus.resolved], status=CaseStatus.closed, closed_at=now,
                                close_reason=CloseReason.auto):
            continue
        closed += 1
        event = await add_event(session, case, CaseEventType.auto_closed, at=now,
                                data={"after_days": settings.case_auto_close_days})
        resident = await session.get(User, case.resident_id)
        found = await found_on_patrol(session, case)

        def render(_, locale, case=case, found=found):  # type: ignore[no-untyped-def]
            days = settings.case_auto_close_days
            if found:
                return _.ngettext(
                    "📁 Case {number} that you found on patrol was closed automatically: it was marked done {days} "
                    "day ago and nobody checked it.",
                    "📁 Case {number} that you found on patrol was closed automatically: it was marked done {days} "
                    "days ago and nobody checked it.", days).format(number=case.number, days=days), None
            text = _.ngettext(
                "📁 Case {number} was closed automatically: it was marked done {days} day ago and we had no "
                "answer. How was the service?",
                "📁 Case {number} was closed automatically: it was marked done {days} days ago and we had no "
                "answer. How was the service?", days).format(number=case.number, days=days)
            return text, rating_buttons(case.id)

        await tell(session, settings, [resident] if resident else [], case=case, event=event, render=render)

        def render_owner(_, locale, case=case):  # type: ignore[no-untyped-def]
            return _("📁 Case {number} closed automatically (no answer from the resident).").format(
                number=case.number), None

        await _notify_owner(session, settings, case, event, render_owner)
        await tell_followers(session, settings, case=case, event=event)
    return closed


async def return_to_queue(session: AsyncSession, settings: Settings, owner_id: int, grid_ids: set[int] | None,
                          now: datetime) -> int:
    """The open cases ``owner_id`` owns (in ``grid_ids``, or all) go back to their
    grid's queue: their role there ended.  Each becomes ``new`` again with no owner
    (a resolved one too: nobody could rework it), gets a ``returned`` event, and
    the grid's team (as it is now) is told.  Returns how many."""
    stmt = select(Case).where(Case.owner_id == owner_id, Case.status.in_(OPEN_STATUSES),
                              Case.status != CaseStatus.new)
    if grid_ids is not None:
        stmt = stmt.where(Case.grid_id.in_(sorted(grid_ids)))
    cases = list(await session.scalars(stmt.order_by(Case.id)))
    for case in cases:
        # Not a compare-and-set on the status: whatever step it is at, the owner is gone.
        await session.execute(update(Case).where(Case.id == case.id, Case.owner_id == owner_id).values(
            status=CaseStatus.new, owner_id=None, accepted_at=None, resolved_at=None, accept_escalated_at=None,
            accept_reminded_at=None, escalation_level=0, escalation_next_at=None)
            .execution_options(synchronize_session=False))
        await session.refresh(case)
        event = await add_event(session, case, CaseEventType.returned, at=now,
                                data={"owner": owner_id, "reason": "role_ended"})

        def render(_, locale, case=case):  # type: ignore[no-untyped-def]
            text = _("↩️ Case {number} is back in the queue: the worker who had it no longer works here. "
                     "Please accept it.").format(number=case.number)
            return text, [[Button(_("✅ Accept"), case_cb("acc", case.id))],
                          [Button(_("📄 Details"), case_cb("view", case.id))]]

        await tell(session, settings, await grid_team(session, case.grid_id), case=case, event=event, render=render,
                   kind=OutboxKind.case_update)
    return len(cases)
