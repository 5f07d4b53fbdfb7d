"""A district to publish: the demo district, residents with distinctive names,
phones, usernames and rooms, and their cases in every state, made through the
real case services (so the events are the loop's own)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from bot.config import Settings
from bot.services import cases
from models import Building, Case, CaseKind, Department, ServiceItem, User

WORKER_TG = 7000000014  # 张伟, worker of grid DC-XS-01 (data/demo_district.yaml)
BUILDING = "DC-XS-01-01"  # in grid DC-XS-01, at 41.7436, 125.9168

# What must never appear in any answer: the residents' names, usernames,
# phones, Telegram ids and the rooms they wrote in their own words.
SECRETS = ["钱多多", "Qianduoduo", "qian_secret_user", "13912345678", "7100000001",
           "孙秘密", "sun_hidden_42", "13800001111", "7100000002", "3-501", "302室", "Room 1204"]


@dataclass
class World:
    settings: Settings
    public: list[str] = field(default_factory=list)  # numbers of cases that must be listed
    hidden: list[str] = field(default_factory=list)  # numbers that must never be


def settings_for(db_url: str) -> Settings:
    return Settings(_env_file=None, DATABASE_URL=db_url, QUIET_HOURS="")


async def _resident(session, telegram_id: int, first: str, last: str, username: str, phone: str,
                    building: Building, now: datetime) -> User:  # type: ignore[no-untyped-def]
    user = User(telegram_id=telegram_id, first_name=first, last_name=last, username=username, phone=phone,
                locale="zh-Hans", building_id=building.id, grid_id=building.grid_id, registered_at=now,
                privacy_consent_at=now, home_confirmed_at=now, created_at=now, roles=[])
    session.add(user)
    await session.flush()
    return user


async def _file(session, settings: Settings, resident: User, code: str | None, text: str,
                now: datetime, kind: CaseKind = CaseKind.report) -> Case:  # type: ignore[no-untyped-def]
    if code is None:
        draft = await cases.start_draft(session, resident, kind=kind, service_id=None, now=now)
    else:
        service_id = await session.scalar(select(ServiceItem.id).where(ServiceItem.code == code))
        draft = await cases.start_for_service(session, resident, service_id, now)
    await cases.add_text(session, resident, draft.id, text, "zh-Hans")
    if draft.kind == CaseKind.proxy:
        await cases.set_authorisation(session, resident, draft.id, "代我去社保局交材料")
    return await cases.submit(session, settings, resident, draft.id, now)


async def build(sessionmaker, settings: Settings) -> World:  # type: ignore[no-untyped-def]
    """Cases of two residents: public ones (accepted, escalated, resolved,
    closed) and hidden ones (a proxy errand, a free request, a case marked
    private, a case of a category the district keeps private)."""
    world = World(settings)
    now = datetime.now(UTC) - timedelta(hours=2)
    async with sessionmaker() as s:
        building = await s.scalar(select(Building).where(Building.code == BUILDING))
        worker = await s.scalar(select(User).where(User.telegram_id == WORKER_TG))
        qian = await _resident(s, 7100000001, "钱多多", "Qianduoduo", "qian_secret_user", "+86 139 1234 5678",
                               building, now)
        sun = await _resident(s, 7100000002, "孙秘密", "Sun", "sun_hidden_42", "13800001111", building, now)
        words = "我是钱多多，住3-501，电话13912345678，楼道灯坏了"
        a = await _file(s, settings, qian, "RP-REPAIR", words, now)
        b = await _file(s, settings, sun, "RP-SANITATION", "孙秘密 302室 门口堆满垃圾 Room 1204", now)
        c = await _file(s, settings, qian, "RP-HAZARD", "钱多多: 电线裸露", now)
        d = await _file(s, settings, sun, "RP-REPAIR", "孙秘密 13800001111 水管漏水", now)
        await cases.accept(s, settings, worker, a.id, now + timedelta(minutes=5))
        await cases.accept(s, settings, worker, b.id, now + timedelta(minutes=6))
        await cases.start_work(s, settings, worker, b.id, now + timedelta(minutes=7))
        department = await s.scalar(select(Department).order_by(Department.id).limit(1))
        await cases.call_department(s, settings, worker, b.id, department.id, "请城管协助 钱多多", now + timedelta(minutes=8))
        await cases.accept(s, settings, worker, c.id, now + timedelta(minutes=9))
        await cases.resolve(s, settings, worker, c.id, "已修好，钱多多家门口", None, now + timedelta(minutes=10))
        await cases.accept(s, settings, worker, d.id, now + timedelta(minutes=11))
        await cases.resolve(s, settings, worker, d.id, "换了水管", None, now + timedelta(minutes=12))
        await cases.confirm(s, settings, sun, d.id, now + timedelta(minutes=13))
        world.public += [a.number, b.number, c.number, d.number]
        # Hidden: a proxy errand, a free request, a case marked private, a private category.
        e = await _file(s, settings, qian, "PX-MEDPAY", "钱多多 的社保卡", now)
        f = await _file(s, settings, sun, None, "孙秘密 想问低保", now, kind=CaseKind.request)
        g = await _file(s, settings, sun, "RP-DISPUTE", "和邻居吵架 孙秘密", now)
        await s.execute(update(Case).where(Case.id == g.id).values(private=True))
        h = await _file(s, settings, qian, "RP-NOISE", "噪音 钱多多", now)
        await s.execute(update(ServiceItem).where(ServiceItem.code == "RP-NOISE").values(private=True))
        world.hidden += [e.number, f.number, g.number, h.number]
        await s.commit()
    return world
