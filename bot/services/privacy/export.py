"""A copy of everything stored about a person, as readable UTF-8 JSON."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import diary
from bot.services import users as user_service
from models import (
    Appointment,
    Building,
    Case,
    CaseAttachment,
    CaseEvent,
    CaseFollower,
    CaseRating,
    EventSignup,
    Grid,
    PartyMember,
    ServiceEvent,
    ServiceItem,
    Station,
    User,
    i18n_name,
    utcnow,
)


def _when(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


async def export_user_data(session: AsyncSession, user: User, locale: str) -> bytes:
    """Everything stored about ``user``: profile, consents, roles, their cases
    (their own words, attachments they sent, the public timeline, their rating),
    the cases they follow (by number), their appointments, the tags of
    their household on the ledger, their unit, party membership and service days.  Only the
    person's own data: the caller is the person (the handler passes the
    current user), so no permission check beyond that is needed."""
    home = await user_service.home_of(session, user, locale)
    data: dict[str, Any] = {
        "exported_at": _when(utcnow()),
        "profile": {
            "telegram_id": user.telegram_id,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "username": user.username,
            "language": user.locale,
            "phone": user.phone,
            "home": None if home is None else {"community": home.community, "grid": home.grid,
                                               "building": home.building},
            "registered_at": _when(user.registered_at),
            "first_seen_at": _when(user.created_at),
        },
        "consents": {"privacy_notice": _when(user.privacy_consent_at)},
        "roles": [{"role": g.role.value, "scope": g.scope_type.value, "granted_at": _when(g.granted_at)}
                  for g in user.roles],
        "cases": await _cases(session, user),
        "followed_cases": list(await session.scalars(
            select(Case.number).join(CaseFollower, CaseFollower.case_id == Case.id)
            .where(CaseFollower.user_id == user.id).order_by(Case.id))),
        "appointments": await _appointments(session, user, locale),
        "household_ledger_tags": [t.value for t in await diary.own_household_tags(session, user)],
        "unit": user.unit,
        "party_member": await _party(session, user),
        "service_days": [
            {"title": e.title, "starts_at": _when(e.starts_at), "place": e.place, "sign_up": s.status.value,
             "attended": s.attended, "volunteer_hours": s.hours}
            for s, e in (await session.execute(
                select(EventSignup, ServiceEvent).join(ServiceEvent, ServiceEvent.id == EventSignup.event_id)
                .where(EventSignup.user_id == user.id).order_by(ServiceEvent.starts_at))).all()],
    }
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


async def _party(session: AsyncSession, user: User) -> dict[str, Any] | None:
    member = await session.get(PartyMember, user.id)
    if member is None:
        return None
    return {"branch_grid": await session.scalar(select(Grid.code).where(Grid.id == member.branch_grid_id)),
            "group_building": await session.scalar(select(Building.code).where(
                Building.id == member.group_building_id)),
            "central_household": member.central_household}


async def _cases(session: AsyncSession, user: User) -> list[dict[str, Any]]:
    cases = list(await session.scalars(select(Case).where(Case.resident_id == user.id).order_by(Case.id)))
    if not cases:
        return []
    ids = [c.id for c in cases]
    events: dict[int, list[dict[str, Any]]] = {}
    for e in await session.scalars(select(CaseEvent).where(CaseEvent.case_id.in_(ids), CaseEvent.public)
                                   .order_by(CaseEvent.at, CaseEvent.id)):
        events.setdefault(e.case_id, []).append(
            {"at": _when(e.at), "event": e.type.value, "by": e.actor_role.value, "note": e.note})
    files: dict[int, list[dict[str, Any]]] = {}
    for a in await session.scalars(select(CaseAttachment).where(
            CaseAttachment.case_id.in_(ids), CaseAttachment.uploaded_by_id == user.id).order_by(CaseAttachment.id)):
        files.setdefault(a.case_id, []).append(
            {"kind": a.kind.value, "file_name": a.file_name, "caption": a.caption, "sent_at": _when(a.created_at)})
    ratings = {r.case_id: r for r in await session.scalars(select(CaseRating).where(CaseRating.case_id.in_(ids)))}
    out = []
    for c in cases:
        rating = ratings.get(c.id)
        out.append({
            "number": c.number, "kind": c.kind.value, "status": c.status.value, "description": c.description,
            "location": None if c.latitude is None else {"latitude": c.latitude, "longitude": c.longitude},
            "emergency": c.emergency, "created_at": _when(c.created_at), "submitted_at": _when(c.submitted_at),
            "accepted_at": _when(c.accepted_at), "resolved_at": _when(c.resolved_at),
            "closed_at": _when(c.closed_at), "result": c.resolution,
            "rating": None if rating is None else {"score": rating.score, "comment": rating.comment},
            "files_you_sent": files.get(c.id, []), "timeline": events.get(c.id, []),
        })
    return out


async def _appointments(session: AsyncSession, user: User, locale: str) -> list[dict[str, Any]]:
    rows = (await session.execute(
        select(Appointment, Station, ServiceItem)
        .join(Station, Station.id == Appointment.station_id)
        .join(ServiceItem, ServiceItem.id == Appointment.service_id)
        .where(Appointment.resident_id == user.id).order_by(Appointment.starts_at))).all()
    return [{"station": i18n_name(st.names, locale, st.code), "service": i18n_name(sv.names, locale, sv.code),
             "starts_at": _when(a.starts_at), "ends_at": _when(a.ends_at), "status": a.status.value,
             "at_home": a.at_home, "cancelled_at": _when(a.cancelled_at)} for a, st, sv in rows]
