"""A small world for the case services' unit tests: the hand-built district of
tests/factories.py plus catalogue items and one person of every kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import cases
from bot.services.cases.common import FileRef
from models import (
    AttachmentKind,
    CaseEvent,
    CaseEventType,
    CaseKind,
    OutboxMessage,
    RoleGrant,
    ScopeType,
    ServiceItem,
    ServiceKind,
    User,
)
from tests.factories import SETTINGS, Place, make_district, make_staff, make_user, names, shanghai

# Tuesday 1 December 2026, 09:00 in Shanghai: working time.
T0 = shanghai(12, 1, 9)


def photo(n: int = 1) -> FileRef:
    return FileRef(AttachmentKind.photo, f"PHOTO-{n}", f"uniq-photo-{n}")


def voice(n: int = 1) -> FileRef:
    return FileRef(AttachmentKind.voice, f"VOICE-{n}", f"uniq-voice-{n}", mime_type="audio/ogg")


@dataclass
class World:
    place: Place
    proxy_item: ServiceItem
    report_item: ServiceItem
    resident: User
    neighbour: User  # same building
    stranger: User  # a resident of another grid
    worker: User
    worker2: User
    head: User
    other_worker: User  # of another grid
    staff: User
    other_staff: User  # another community
    officer: User  # of the department
    admin: User

    async def reload(self, session: AsyncSession) -> World:
        """The same people, loaded in ``session``."""
        fresh = {}
        for name in ("resident", "neighbour", "stranger", "worker", "worker2", "head", "other_worker", "staff",
                     "other_staff", "officer", "admin"):
            fresh[name] = await session.get(User, getattr(self, name).id)
        return World(self.place, self.proxy_item, self.report_item, **fresh)


async def _resident(session: AsyncSession, tg: int, building, locale: str = "zh-Hans") -> User:  # type: ignore[no-untyped-def]
    user = await make_user(session, tg, locale=locale)
    user.building_id, user.grid_id, user.phone = building.id, building.grid_id, f"+86139{tg}"
    return user


async def make_world(session: AsyncSession) -> World:
    place = await make_district(session)
    proxy_item = ServiceItem(code="PX-TEST", kind=ServiceKind.proxy, names=names("居住证明", "Proof of residence"),
                             accept_hours=4, resolve_hours=16)
    report_item = ServiceItem(code="RP-TEST", kind=ServiceKind.report, names=names("设施维修", "Repair"),
                              accept_hours=2, resolve_hours=8)
    session.add_all([proxy_item, report_item])
    await session.flush()
    world = World(
        place=place, proxy_item=proxy_item, report_item=report_item,
        resident=await _resident(session, 8001, place.buildings[0]),
        neighbour=await _resident(session, 8002, place.buildings[0], "en"),
        stranger=await _resident(session, 8003, place.buildings[4]),
        **await make_staff(session, place, 8000),
    )
    assert (await session.scalar(select(RoleGrant.scope_type).where(RoleGrant.user_id == world.worker.id))
            == ScopeType.grid)
    await session.flush()
    return world


async def sent_case(session: AsyncSession, world: World, *, kind: CaseKind = CaseKind.report, text: str = "楼道灯坏了",
                    now: datetime = T0, resident: User | None = None, files: list[FileRef] | None = None,
                    emergency: bool = False):  # type: ignore[no-untyped-def]
    resident = resident or world.resident
    service_id = {CaseKind.report: world.report_item.id, CaseKind.proxy: world.proxy_item.id,
                  CaseKind.request: None}[kind]
    draft = await cases.start_draft(session, resident, kind=kind, service_id=service_id, now=now)
    if text:
        await cases.add_text(session, resident, draft.id, text, "zh-Hans")
    for ref in files or []:
        await cases.add_file(session, resident, draft.id, ref, "zh-Hans", now)
    if kind == CaseKind.proxy:
        await cases.set_authorisation(session, resident, draft.id, "代我去派出所提交材料")
    return await cases.submit(session, SETTINGS, resident, draft.id, now, emergency=emergency)


async def events(session: AsyncSession, case_id: int, type_: CaseEventType | None = None) -> list[CaseEvent]:
    """A case's timeline (its events of ``type_`` only, if given), oldest first."""
    stmt = select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
    if type_ is not None:
        stmt = stmt.where(CaseEvent.type == type_)
    return list(await session.scalars(stmt))


def buttons(row: OutboxMessage) -> list[str]:
    return [b.get("callback_data", "") for line in row.payload.get("buttons", []) for b in line]
