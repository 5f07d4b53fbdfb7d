"""Talking about a case: the resident and the owning worker write to each
other through the bot (neither sees the other's Telegram account or phone),
workers add internal notes residents never see, send canned replies, and log
documents that change hands during a proxy errand.

Relayed files are sent again by their Telegram ``file_id``: nothing is
forwarded (a forward would show the sender's account).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.services.access import admin_district_ids, chain_of_community, staff_community_ids
from bot.services.cases.common import (
    WORKER_SIDE,
    Capacity,
    FileRef,
    Media,
    actor_role,
    add_event,
    case_cb,
    case_for,
    clean_text,
    tell,
)
from bot.services.cases.limits import check_relay
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from bot.services.escape import esc
from bot.services.inputs import typed_text
from bot.services.notify import Button
from models import (
    HANDLING_STATUSES,
    ActorRole,
    AttachmentKind,
    CannedReply,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseEventType,
    CaseHandover,
    CaseKind,
    CaseStatus,
    HandoverDirection,
    User,
)

MAX_MESSAGE = 2000
MAX_DOCUMENT_NAME = 200
MAX_CANNED_TITLE = 40
MAX_CANNED_TEXT = 1000
# A worker's message this recent makes a resident's next free message a possible reply (issue 20).
CONVERSATION_DAYS = 3
# What the worker side did that a resident may be answering.
_SPOKEN_TO = (CaseEventType.message, CaseEventType.handover, CaseEventType.resolved)


@dataclass(frozen=True, slots=True)
class Relayed:
    """Where a message went: ``to`` is "worker", "resident" or None (kept on the case only)."""

    case_id: int
    number: str
    to: str | None


def _text(text: str | None, *, required: bool) -> str | None:
    return clean_text(text, MAX_MESSAGE, required=required)


def _media(ref: FileRef | None, location: tuple[float, float] | None) -> Media | None:
    if ref is not None:
        return Media(ref.kind.value, ref.file_id)
    if location is not None:
        return Media("location", latitude=location[0], longitude=location[1])
    return None


async def _store_attachment(session: AsyncSession, case: Case, event_id: int, actor: User, ref: FileRef | None,
                            location: tuple[float, float] | None, *, phase: str, public: bool,
                            now: datetime) -> None:
    if ref is not None:
        session.add(CaseAttachment(case_id=case.id, event_id=event_id, uploaded_by_id=actor.id, kind=ref.kind,
                                   file_id=ref.file_id, file_unique_id=ref.file_unique_id,
                                   file_name=ref.file_name[:256] if ref.file_name else None, mime_type=ref.mime_type,
                                   caption=ref.caption, phase=phase, public=public, created_at=now))
    elif location is not None:
        lat, lon = location
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise InvalidInput("bad_location")
        session.add(CaseAttachment(case_id=case.id, event_id=event_id, uploaded_by_id=actor.id,
                                   kind=AttachmentKind.location, latitude=lat, longitude=lon, phase=phase,
                                   public=public, created_at=now))


async def send_message(session: AsyncSession, settings: Settings, actor: User, case_id: int, *,
                       text: str | None = None, file: FileRef | None = None,
                       location: tuple[float, float] | None = None, now: datetime,
                       canned_id: int | None = None) -> Relayed:
    """Relay one message between the resident and the owner of an open case."""
    case, caps = await case_for(session, actor, case_id)
    body = _text(text if text is not None else (file.caption if file else None),
                 required=file is None and location is None)
    if case.status == CaseStatus.closed:
        raise Conflict("case_closed", number=case.number or "")
    if location is not None and not (-90 <= location[0] <= 90 and -180 <= location[1] <= 180):
        raise InvalidInput("bad_location")
    if Capacity.resident in caps:
        sender = "resident"
    elif Capacity.owner in caps:
        sender = "worker"
    else:
        raise NotAllowed("not_owner")
    await check_relay(session, settings, case, now)
    event = await add_event(session, case, CaseEventType.message, at=now, actor=actor, role=actor_role(caps),
                            note=body, data={"from": sender, **({"canned": canned_id} if canned_id else {})})
    await _store_attachment(session, case, event.id, actor, file, location, phase="message", public=True, now=now)
    media = _media(file, location)
    if sender == "resident":
        if case.owner_id is None:
            return Relayed(case.id, case.number or "", None)
        owner = await session.get(User, case.owner_id)
        name = actor.first_name

        def render(_, locale):  # type: ignore[no-untyped-def]
            head = _("💬 {number} · resident {name}:").format(number=case.number, name=esc(name))
            return (head + ("\n" + esc(body) if body else "")), [
                [Button(_("↩️ Reply"), case_cb("chat", case.id))],
                [Button(_("📄 Details"), case_cb("view", case.id))]]

        await tell(session, settings, [owner] if owner else [], case=case, event=event, render=render, media=media)
        return Relayed(case.id, case.number or "", "worker")

    resident = await session.get(User, case.resident_id)

    def render_resident(_, locale):  # type: ignore[no-untyped-def]
        head = _("💬 Your grid worker, about case {number}:").format(number=case.number)
        return (head + ("\n" + esc(body) if body else "")), [[Button(_("↩️ Reply"), case_cb("chat", case.id))]]

    await tell(session, settings, [resident] if resident else [], case=case, event=event, render=render_resident,
               media=media)
    return Relayed(case.id, case.number or "", "resident")


@dataclass(frozen=True, slots=True)
class OpenTalk:
    """A case of the resident's own that she may be answering: its worker wrote lately, or it awaits her word."""

    case_id: int
    number: str


async def open_conversation(session: AsyncSession, resident: User, now: datetime) -> OpenTalk | None:
    """Her case she is most likely answering, if any: one marked done that awaits her "solved?",
    or one whose worker side wrote to her (a message, a handover, the result) in the last
    :data:`CONVERSATION_DAYS` days; the most recent first.  Only cases she filed, never closed."""
    since = now - timedelta(days=CONVERSATION_DAYS)
    spoken = (select(CaseEvent.case_id, CaseEvent.at).join(Case, Case.id == CaseEvent.case_id)
              .where(Case.resident_id == resident.id, Case.status.not_in((CaseStatus.closed, CaseStatus.draft)),
                     CaseEvent.type.in_(_SPOKEN_TO), CaseEvent.at >= since, CaseEvent.public,
                     or_(CaseEvent.actor_id.is_(None), CaseEvent.actor_id != resident.id))
              .order_by(CaseEvent.at.desc(), CaseEvent.id.desc()).limit(1))
    row = (await session.execute(spoken)).first()
    case = await session.get(Case, row.case_id) if row is not None else None
    if case is None:
        case = await session.scalar(select(Case).where(Case.resident_id == resident.id,
                                                       Case.status == CaseStatus.resolved)
                                    .order_by(Case.resolved_at.desc(), Case.id.desc()).limit(1))
    return OpenTalk(case.id, case.number or "") if case is not None else None


async def relay_draft(session: AsyncSession, settings: Settings, resident: User, draft_id: int, case_id: int,
                      now: datetime) -> Relayed:
    """What she began writing at the menu goes to the worker of her case instead of becoming a new
    case: the words, then each file or place, as messages of the case; the unsent draft goes away."""
    draft = await session.get(Case, draft_id)
    if draft is None or draft.resident_id != resident.id or draft.status != CaseStatus.draft:
        raise NotFound("draft")
    pieces = list(await session.scalars(select(CaseAttachment).where(CaseAttachment.case_id == draft.id)
                                        .order_by(CaseAttachment.id)))
    relayed: Relayed | None = None
    words = draft.description or ""
    for start in range(0, len(words), MAX_MESSAGE):  # a draft holds more than one message may
        relayed = await send_message(session, settings, resident, case_id, text=words[start:start + MAX_MESSAGE],
                                     now=now)
    for piece in pieces:
        if piece.kind == AttachmentKind.location and piece.latitude is not None and piece.longitude is not None:
            relayed = await send_message(session, settings, resident, case_id, now=now,
                                         location=(piece.latitude, piece.longitude))
        elif piece.file_id:
            ref = FileRef(piece.kind, piece.file_id, piece.file_unique_id, file_name=piece.file_name,
                          mime_type=piece.mime_type)
            relayed = await send_message(session, settings, resident, case_id, file=ref, text="", now=now)
    if relayed is None:
        raise InvalidInput("draft_empty")
    await session.execute(delete(Case).where(Case.id == draft.id))
    return relayed


async def add_note(session: AsyncSession, settings: Settings, actor: User, case_id: int, *, text: str | None,
                   file: FileRef | None = None, now: datetime) -> None:
    """An internal note: workers, staff and officers of the case read it, residents never."""
    case, caps = await case_for(session, actor, case_id, need=WORKER_SIDE | {Capacity.department})
    body = _text(text if text is not None else (file.caption if file else None), required=file is None)
    event = await add_event(session, case, CaseEventType.note, at=now, actor=actor, role=actor_role(caps),
                            note=body, public=False)
    await _store_attachment(session, case, event.id, actor, file, None, phase="note", public=False, now=now)
    if case.owner_id is not None and case.owner_id != actor.id:
        owner = await session.get(User, case.owner_id)
        role = actor_role(caps)

        def render(_, locale):  # type: ignore[no-untyped-def]
            who = {ActorRole.staff: _("community staff"), ActorRole.grid_head: _("grid head"),
                   ActorRole.department: _("department"), ActorRole.admin: _("district")}.get(role, _("colleague"))
            head = _("📝 Note on case {number} from {who} {name}:").format(number=case.number, who=who,
                                                                          name=esc(actor.first_name))
            return (head + ("\n" + esc(body) if body else "")), [[Button(_("📄 Details"), case_cb("view", case.id))]]

        await tell(session, settings, [owner] if owner else [], case=case, event=event, render=render,
                   media=_media(file, None))


# ------------------------------------------------------------------ canned replies

def _canned_scope(user: User) -> list[int]:
    return sorted(staff_community_ids(user))


async def canned_for_case(session: AsyncSession, actor: User, case_id: int) -> list[CannedReply]:
    case, _caps = await case_for(session, actor, case_id, need={Capacity.owner})
    return list(await session.scalars(
        select(CannedReply).where(CannedReply.active,
                                  or_(CannedReply.community_id.is_(None), CannedReply.community_id == case.community_id))
        .order_by(CannedReply.community_id.is_(None), CannedReply.title, CannedReply.id)))


async def send_canned(session: AsyncSession, settings: Settings, actor: User, case_id: int, reply_id: int,
                      now: datetime) -> Relayed:
    replies = {r.id: r for r in await canned_for_case(session, actor, case_id)}
    reply = replies.get(reply_id)
    if reply is None:
        raise NotFound("canned")
    return await send_message(session, settings, actor, case_id, text=reply.text, now=now, canned_id=reply.id)


async def _is_admin(session: AsyncSession, user: User, community_id: int | None) -> bool:
    districts = admin_district_ids(user)
    if not districts:
        return False
    if community_id is None:
        return True
    chain = await chain_of_community(session, community_id)
    return chain is not None and chain.district_id in districts


async def canned_editable(session: AsyncSession, actor: User) -> list[CannedReply]:
    """The templates ``actor`` may edit: their communities' (staff), or all (admin)."""
    communities = _canned_scope(actor)
    if admin_district_ids(actor):
        stmt = select(CannedReply).where(CannedReply.active)
    elif communities:
        stmt = select(CannedReply).where(CannedReply.active, CannedReply.community_id.in_(communities))
    else:
        raise NotAllowed()
    return list(await session.scalars(stmt.order_by(CannedReply.title, CannedReply.id)))


async def canned_to_edit(session: AsyncSession, actor: User, reply_id: int) -> CannedReply:
    """One of the templates ``actor`` may edit (:func:`canned_editable`), before asking for its new text."""
    for reply in await canned_editable(session, actor):
        if reply.id == reply_id:
            return reply
    raise NotFound("canned")


async def _editable(session: AsyncSession, actor: User, reply_id: int) -> CannedReply:
    reply = await session.get(CannedReply, reply_id)
    if reply is None or not reply.active:
        raise NotFound("canned")
    if reply.community_id in staff_community_ids(actor) or await _is_admin(session, actor, reply.community_id):
        return reply
    raise NotFound("canned")


def _canned_fields(title: str, text: str) -> tuple[str, str]:
    title, text = " ".join((title or "").split()), (text or "").strip()
    if not title or not text:
        raise InvalidInput("empty_text")
    if len(title) > MAX_CANNED_TITLE:
        raise InvalidInput("text_too_long", limit=MAX_CANNED_TITLE)
    if len(text) > MAX_CANNED_TEXT:
        raise InvalidInput("text_too_long", limit=MAX_CANNED_TEXT)
    return title, text


async def create_canned(session: AsyncSession, actor: User, title: str, text: str, now: datetime) -> CannedReply:
    """Staff add a template for their community (the first one, if several); admins for everyone."""
    title, text = _canned_fields(title, text)
    communities = _canned_scope(actor)
    if communities:
        community_id: int | None = communities[0]
    elif admin_district_ids(actor):
        community_id = None
    else:
        raise NotAllowed()
    reply = CannedReply(community_id=community_id, title=title, text=text, created_by_id=actor.id, created_at=now,
                        updated_at=now)
    session.add(reply)
    await session.flush()
    return reply


async def update_canned(session: AsyncSession, actor: User, reply_id: int, text: str, now: datetime) -> CannedReply:
    reply = await _editable(session, actor, reply_id)
    _title, reply.text = _canned_fields(reply.title, text)
    reply.updated_at = now
    await session.flush()
    return reply


async def delete_canned(session: AsyncSession, actor: User, reply_id: int) -> None:
    reply = await _editable(session, actor, reply_id)
    reply.active = False
    await session.flush()


# ------------------------------------------------------------------ handovers

def document_name(document: str | None) -> str:
    """The name of a document that changed hands, as :func:`log_handover` takes it."""
    return typed_text(document, MAX_DOCUMENT_NAME, one_line=True)


async def log_handover(session: AsyncSession, settings: Settings, actor: User, case_id: int,
                       direction: HandoverDirection, document: str, photo: FileRef | None,
                       now: datetime) -> CaseHandover:
    """A document changed hands during a proxy errand (with a photo if given)."""
    case, caps = await case_for(session, actor, case_id, need={Capacity.owner})
    if case.kind != CaseKind.proxy:
        raise InvalidInput("not_proxy")
    if case.status not in (*HANDLING_STATUSES, CaseStatus.resolved):
        raise Conflict("wrong_status", number=case.number or "")
    name = document_name(document)
    if photo is not None and photo.kind != AttachmentKind.photo:
        raise InvalidInput("photo_only")
    handover = CaseHandover(case_id=case.id, direction=direction, document=name,
                            photo_file_id=photo.file_id if photo else None,
                            photo_unique_id=photo.file_unique_id if photo else None,
                            recorded_by_id=actor.id, at=now)
    session.add(handover)
    await session.flush()
    event = await add_event(session, case, CaseEventType.handover, at=now, actor=actor, role=actor_role(caps),
                            note=name, data={"handover": handover.id, "direction": direction.value,
                                             "photo": photo is not None})
    if photo is not None:
        await _store_attachment(session, case, event.id, actor, photo, None, phase="handover", public=True, now=now)
    resident = await session.get(User, case.resident_id)

    def render(_, locale):  # type: ignore[no-untyped-def]
        if direction == HandoverDirection.to_worker:
            line = _("📥 Case {number}: your grid worker has received from you: {document}")
        else:
            line = _("📤 Case {number}: your grid worker has given you: {document}")
        return line.format(number=case.number, document=esc(name)), [
            [Button(_("💬 Write to your worker"), case_cb("chat", case.id))]]

    await tell(session, settings, [resident] if resident else [], case=case, event=event, render=render,
               media=Media("photo", photo.file_id) if photo else None)
    return handover

