"""Shared plumbing of the case services: who may see a case, the timeline
writer, recipients, numbering and outgoing notifications.

Permission model (checked on every call, buttons included):

* a resident sees their own cases (and cases they follow, read-only);
* grid workers and grid heads see the cases of their grids; the owner acts;
* community staff see their community's cases; district admins their district's;
* department officers see only cases escalated to their department.

A case one may not see answers exactly like a case that does not exist, so
ids cannot be probed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services import audit, family
from bot.services.access import (
    admin_district_ids,
    department_ids,
    field_grid_ids,
    head_grid_ids,
    staff_community_ids,
)
from bot.services.cases import texts
from bot.services.errors import NotAllowed, NotFound
from bot.services.escape import esc
from bot.services.inputs import typed_text
from bot.services.l10n import Translate, translator
from bot.services.notify import Button, notify, recipient_locale
from models import (
    AccessAction,
    ActorRole,
    AttachmentKind,
    Building,
    Case,
    CaseCounter,
    CaseEscalation,
    CaseEvent,
    CaseEventType,
    CaseFollower,
    CaseKind,
    CaseStatus,
    Community,
    District,
    OutboxKind,
    Role,
    RoleGrant,
    ScopeType,
    ServiceItem,
    User,
    i18n_name,
)

# Callback data of case buttons, the same layout aiogram's CallbackData packs
# (handlers.cases.ui.CaseCb / EscCb): built here because services
# write buttons into outbox rows.
CASE_CB = "cs"
ESC_CB = "ce"


def case_cb(action: str, case_id: int, arg: int = 0) -> str:
    return f"{CASE_CB}:{action}:{case_id}:{arg}"


def esc_cb(action: str, escalation_id: int) -> str:
    return f"{ESC_CB}:{action}:{escalation_id}"


class Capacity(enum.StrEnum):
    resident = "resident"  # the case is theirs
    follower = "follower"  # follows it instead of a duplicate
    owner = "owner"  # the worker who accepted it
    grid = "grid"  # a worker or grid head of its grid
    grid_head = "grid_head"
    staff = "staff"  # community staff of its community
    admin = "admin"  # district administrator
    department = "department"  # an officer of a department it was escalated to


# Roles of a ``submitted`` event that mark a case filed from the worker side
# (found on patrol), not by a resident; ``system`` (imports, old data) is not one.
FILED_BY_STAFF = frozenset({ActorRole.worker, ActorRole.grid_head, ActorRole.staff, ActorRole.admin,
                            ActorRole.department})
WORKER_SIDE = frozenset({Capacity.owner, Capacity.grid, Capacity.grid_head, Capacity.staff, Capacity.admin})
# Who may pull an escalation's handles (assign, remind, take; bot.services.cases.oversight).
OVERSEER = frozenset({Capacity.grid_head, Capacity.staff, Capacity.admin})

# What a follower (a neighbour following the case) sees and is told of: its status changes.
STATUS_EVENTS = frozenset({CaseEventType.submitted, CaseEventType.accepted, CaseEventType.started,
                           CaseEventType.resolved, CaseEventType.reopened, CaseEventType.confirmed,
                           CaseEventType.auto_closed, CaseEventType.withdrawn})


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file someone sent: Telegram's ids, never the bytes."""

    kind: AttachmentKind
    file_id: str
    file_unique_id: str | None = None
    file_name: str | None = None
    mime_type: str | None = None
    caption: str | None = None


def clean_text(text: str | None, limit: int, *, required: bool = True) -> str | None:
    """``text`` stripped and checked (:func:`typed_text`); None when it is empty and not ``required``."""
    if not required and not (text or "").strip():
        return None
    return typed_text(text, limit)


async def capacities(session: AsyncSession, user: User, case: Case) -> set[Capacity]:
    caps: set[Capacity] = set()
    if case.status == CaseStatus.draft:
        return {Capacity.resident} if case.resident_id == user.id else set()
    if case.resident_id == user.id:
        caps.add(Capacity.resident)
    # The owner acts (and sees the resident's phone) only while they still hold a
    # worker or grid-head grant on the case's grid, or a staff grant on its community
    # (a secretary who took it herself, issue 20): access ends with the role.
    if case.owner_id is not None and case.owner_id == user.id and (
            case.grid_id in field_grid_ids(user) or case.community_id in staff_community_ids(user)):
        caps.add(Capacity.owner)
    if case.grid_id in field_grid_ids(user):
        caps.add(Capacity.grid)
    if case.grid_id in head_grid_ids(user):
        caps.add(Capacity.grid_head)
    if case.community_id in staff_community_ids(user):
        caps.add(Capacity.staff)
    districts = admin_district_ids(user)
    if districts:
        district_id = await session.scalar(select(Community.district_id).where(Community.id == case.community_id))
        if district_id in districts:
            caps.add(Capacity.admin)
    departments = department_ids(user)
    if departments:
        hit = await session.scalar(select(CaseEscalation.id).where(
            CaseEscalation.case_id == case.id, CaseEscalation.department_id.in_(departments)).limit(1))
        if hit is not None:
            caps.add(Capacity.department)
    if not caps and await family.is_delegate(session, user.id, case.resident_id):
        caps.add(Capacity.resident)  # a family member acting for them (bot.services.family)
    if not caps:
        hit = await session.scalar(select(CaseFollower.id).where(
            CaseFollower.case_id == case.id, CaseFollower.user_id == user.id))
        if hit is not None:
            caps.add(Capacity.follower)
    return caps


async def load_case(session: AsyncSession, case_id: int, *, fresh: bool = False) -> Case:
    stmt = select(Case).where(Case.id == case_id)
    if fresh:
        stmt = stmt.execution_options(populate_existing=True)
    case = await session.scalar(stmt)
    if case is None:
        raise NotFound("case")
    return case


async def case_for(session: AsyncSession, user: User, case_id: int, *,
                   need: Iterable[Capacity] | None = None) -> tuple[Case, set[Capacity]]:
    """The case and what ``user`` is to it; ``NotFound`` unless they may see it
    (and, with ``need``, hold one of those capacities: else ``NotAllowed``)."""
    case = await load_case(session, case_id)
    caps = await capacities(session, user, case)
    if not caps:
        raise NotFound("case")
    if need is not None and not (caps & set(need)):
        raise NotAllowed()
    return case, caps


async def found_on_patrol(session: AsyncSession, case: Case) -> bool:
    """The case was filed from the worker side (a problem found on patrol,
    :func:`bot.services.cases.open_found_problem`): its ``submitted`` event's
    role is one of :data:`FILED_BY_STAFF`.  Someone other than the filer confirms the fix,
    and it is never rated as a resident's satisfaction."""
    role = await session.scalar(select(CaseEvent.actor_role).where(
        CaseEvent.case_id == case.id, CaseEvent.type == CaseEventType.submitted).order_by(CaseEvent.id).limit(1))
    return role in FILED_BY_STAFF


def checker_caps(caps: set[Capacity]) -> set[Capacity]:
    """The capacities that let someone confirm a found problem's fix (the
    grid's workers and head, community staff, district admins)."""
    return caps & {Capacity.grid, Capacity.grid_head, Capacity.staff, Capacity.admin}


def publishable(case: Case) -> bool:
    """Could the case be published at all (Open311, docs/open311.md): a sent
    problem report of a catalogue item; its resident may still keep it private."""
    return case.kind == CaseKind.report and case.service_id is not None and case.status != CaseStatus.draft


def refuse_own_case(case: Case, actor: User) -> None:
    """Separation of duties: nobody accepts or resolves a case they filed."""
    if case.resident_id == actor.id:
        raise NotAllowed("own_case", number=case.number or "")


async def log_phone_shown(session: AsyncSession, viewer: User, case: Case, now: datetime) -> None:
    """The access log's row for the case's resident's phone shown to ``viewer`` (a card, an errand)."""
    await audit.record(session, AccessAction.phone_viewed, actor_id=viewer.id, subject_id=case.resident_id,
                       place=audit.Place(case.community_id), object_type="case", object_id=case.id, at=now)


def actor_role(caps: set[Capacity]) -> ActorRole:
    if Capacity.resident in caps:
        return ActorRole.resident
    if Capacity.owner in caps or Capacity.grid in caps:
        return ActorRole.grid_head if Capacity.grid_head in caps and Capacity.owner not in caps else ActorRole.worker
    if Capacity.staff in caps:
        return ActorRole.staff
    if Capacity.department in caps:
        return ActorRole.department
    if Capacity.admin in caps:
        return ActorRole.admin
    return ActorRole.resident


async def add_event(
    session: AsyncSession,
    case: Case,
    type_: CaseEventType,
    *,
    at: datetime,
    actor: User | None = None,
    role: ActorRole = ActorRole.system,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    public: bool = True,
) -> CaseEvent:
    event = CaseEvent(case_id=case.id, at=at, actor_id=actor.id if actor else None, actor_role=role,
                      type=type_, note=note, data=data or {}, public=public)
    session.add(event)
    await session.flush()
    return event


async def transition(session: AsyncSession, case: Case, from_: Sequence[CaseStatus], **values: Any) -> bool:
    """Change a case only if it is still in one of ``from_`` (a compare-and-set).

    Two people pressing at once: the database lets one UPDATE match, the
    other sees zero rows.  The loaded ``case`` is refreshed either way.
    """
    result = await session.execute(
        update(Case).where(Case.id == case.id, Case.status.in_(list(from_))).values(**values)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(case)
    return bool(result.rowcount)


async def next_number(session: AsyncSession, community_id: int, year: int) -> str:
    """The next readable number of the district, e.g. ``DC-2026-000123``.

    One counter row per (district, year): the UPDATE takes its row lock, so
    concurrent submissions queue on it (PostgreSQL) or on the single writer
    (SQLite) and never get the same number; the lock ends with the transaction.
    """
    code = await session.scalar(
        select(District.code).join(Community, Community.district_id == District.id)
        .where(Community.id == community_id))
    if code is None:
        raise NotFound("community")
    stmt = (update(CaseCounter).where(CaseCounter.district_code == code, CaseCounter.year == year)
            .values(last=CaseCounter.last + 1).returning(CaseCounter.last))
    value = await session.scalar(stmt)
    if value is None:
        insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
        await session.execute(insert(CaseCounter).values(district_code=code, year=year, last=0)
                              .on_conflict_do_nothing(index_elements=["district_code", "year"]))
        value = await session.scalar(stmt)
    return f"{code}-{year}-{int(value):06d}"


# ------------------------------------------------------------------ people

async def _holders(session: AsyncSession, roles: Sequence[Role], scope: ScopeType, scope_ids: Iterable[int]) -> list[User]:
    ids = list(scope_ids)
    if not ids:
        return []
    rows = await session.scalars(
        select(User).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role.in_(list(roles)), RoleGrant.scope_type == scope, RoleGrant.scope_id.in_(ids))
        .order_by(User.id).distinct()
    )
    return list(rows)


async def grid_team(session: AsyncSession, grid_id: int) -> list[User]:
    return await _holders(session, (Role.worker, Role.grid_head), ScopeType.grid, [grid_id])


async def grid_heads(session: AsyncSession, grid_id: int) -> list[User]:
    return await _holders(session, (Role.grid_head,), ScopeType.grid, [grid_id])


async def community_staff(session: AsyncSession, community_id: int) -> list[User]:
    return await _holders(session, (Role.staff,), ScopeType.community, [community_id])


async def community_volunteers(session: AsyncSession, community_id: int) -> list[User]:
    return await _holders(session, (Role.volunteer,), ScopeType.community, [community_id])


async def district_admins(session: AsyncSession, community_id: int) -> list[User]:
    district_id = await session.scalar(select(Community.district_id).where(Community.id == community_id))
    return await _holders(session, (Role.admin,), ScopeType.district, [district_id] if district_id else [])


async def department_officers(session: AsyncSession, department_id: int) -> list[User]:
    return await _holders(session, (Role.department,), ScopeType.department, [department_id])


async def followers(session: AsyncSession, case_id: int) -> list[User]:
    return list(await session.scalars(
        select(User).join(CaseFollower, and_(CaseFollower.user_id == User.id, CaseFollower.case_id == case_id))
        .order_by(User.id)))


async def resident_side(session: AsyncSession, case: Case) -> list[User]:
    """The resident and the residents following the case."""
    resident = await session.get(User, case.resident_id)
    return unique_users([resident], await followers(session, case.id))


def unique_users(*groups: Iterable[User | None], exclude: Iterable[int] = ()) -> list[User]:
    seen = set(exclude)
    out: list[User] = []
    for group in groups:
        for user in group:
            if user is not None and user.id not in seen:
                seen.add(user.id)
                out.append(user)
    return out


# ------------------------------------------------------------------ notifications

# render(_, locale) -> (text, buttons): called once per recipient with their language.
Render = Callable[[Translate, str], tuple[str, list[list[Button]] | None]]


@dataclass(frozen=True, slots=True)
class Media:
    """A Telegram file (or a location) to send along with a notification."""

    kind: str  # photo, voice, audio, video, video_note, document, location
    file_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None


async def tell(
    session: AsyncSession,
    settings: Settings,
    recipients: Iterable[User],
    *,
    case: Case,
    event: CaseEvent | None,
    render: Render,
    kind: OutboxKind = OutboxKind.case_update,
    tag: str = "",
    media: Media | None = None,
    step: str | None = None,
) -> int:
    """Queue one message per recipient in their language, in the caller's transaction.

    The dedupe key names the case, the event (or ``tag``) and the recipient,
    so a retried handler or a job run twice queues nothing new.  ``step``
    names the step of the case instead of the event: an action repeated
    (a new event each time) then alerts nobody twice for the same step.
    """
    count = 0
    for user in recipients:
        locale = recipient_locale(user, settings.default_locale)
        text, buttons = render(translator(locale), locale)
        if step is not None:
            key = f"case:{case.id}:step:{step}:u{user.id}"
        else:
            key = f"case:{case.id}:{'ev' + str(event.id) if event is not None else tag}:{tag}:u{user.id}"
        if media is not None and (media.kind in NO_CAPTION or len(text) > MAX_CAPTION):
            # A location or a video note cannot carry text, and captions are short:
            # the text (with the buttons) goes first, the file right after it.
            queued = await notify(session, recipient=user, kind=kind, dedupe_key=key, text=text, buttons=buttons)
            await notify(session, recipient=user, kind=kind, dedupe_key=key + ":f", text="", **media_kwargs(media))
        else:
            queued = await notify(session, recipient=user, kind=kind, dedupe_key=key, text=text, buttons=buttons,
                                  **(media_kwargs(media) if media is not None else {}))
        count += bool(queued)
    return count


async def tell_residents(session: AsyncSession, settings: Settings, *, case: Case, event: CaseEvent | None,
                         render: Render, kind: OutboxKind = OutboxKind.case_update) -> int:
    """:func:`tell` the resident; the residents following the case hear of a status change
    only (:func:`tell_followers`), never what was written to the resident.  A case filed from
    the worker side (found on patrol) has no resident to tell: its filer is a worker, who never
    gets a resident's texts ("your case... not accepted yet")."""
    resident = None if await found_on_patrol(session, case) else await session.get(User, case.resident_id)
    count = await tell(session, settings, [resident] if resident else [], case=case, event=event, render=render,
                       kind=kind)
    return count + await tell_followers(session, settings, case=case, event=event)


async def tell_followers(session: AsyncSession, settings: Settings, *, case: Case, event: CaseEvent | None) -> int:
    """Tell the neighbours following ``case`` that its status changed (``event`` one of
    :data:`STATUS_EVENTS`): its number and new status, nothing else."""
    if event is None or event.type not in STATUS_EVENTS:
        return 0

    def render(_, locale):  # type: ignore[no-untyped-def]
        if case.status == CaseStatus.resolved:  # its label asks the resident for an answer
            text = _("✅ Case {number} that you follow has been marked as done.").format(number=case.number)
        else:
            text = _("🔔 Case {number} that you follow: {status}.").format(
                number=case.number, status=texts.status_label(_, case.status, case.close_reason))
        return text, [[Button(_("📄 Details"), case_cb("view", case.id))]]

    followers_ = [u for u in await followers(session, case.id) if u.id != case.resident_id]
    return await tell(session, settings, followers_, case=case, event=event, render=render, tag="follow")


NO_CAPTION = {"location", "video_note"}
MAX_CAPTION = 1000  # Telegram allows 1024 characters in a caption


def media_kwargs(media: Media) -> dict[str, Any]:
    if media.kind == "location":
        return {"location": (media.latitude, media.longitude)}
    if media.kind in ("photo", "document", "voice", "audio", "video", "video_note"):
        return {media.kind: media.file_id}
    return {}


def excerpt(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def case_headline(session: AsyncSession, case: Case):  # type: ignore[no-untyped-def]
    """A function ``(_, locale) -> "category · building"`` (HTML-escaped)."""
    service = await session.get(ServiceItem, case.service_id) if case.service_id else None
    building = await session.get(Building, case.building_id) if case.building_id else None

    def line(_, locale):  # type: ignore[no-untyped-def]
        parts = [i18n_name(service.names, locale, service.code) if service else texts.kind_label(_, case.kind)]
        if building is not None:
            parts.append(i18n_name(building.names, locale, building.code))
        if case.emergency:
            parts.insert(0, "🆘")
        return esc(" · ".join(parts))

    return line
