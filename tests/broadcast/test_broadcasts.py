"""The broadcast service on the demo district: scopes and forged ids, exact
recipient counts, queueing per language, control, acknowledgements, follow-ups."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.services.access import field_team_ids, may_oversee
from bot.services.broadcasts import notices as svc
from bot.services.broadcasts.notices import ScopeRef
from bot.services.errors import Conflict, InvalidInput, NotAllowed
from models import (
    Broadcast,
    BroadcastAudience,
    BroadcastScope,
    BroadcastStatus,
    Building,
    Community,
    Grid,
    OutboxMessage,
    OutboxStatus,
    User,
    utcnow,
)

ADMIN, STAFF_XS, STAFF_MZ, HEAD_XS01, WORKER_XS01, RESIDENT_XS01 = (
    7000000001, 7000000002, 7000000003, 7000000013, 7000000014, 7000000040)


async def _user(s, telegram_id: int) -> User:
    return await s.scalar(select(User).where(User.telegram_id == telegram_id))


async def _code(s, model, code: str) -> int:
    return await s.scalar(select(model.id).where(model.code == code))


async def _add_residents(s, building_code: str, n: int, *, first: int, locale: str = "zh-Hans",
                         unreachable: int = 0) -> list[User]:
    building = await s.scalar(select(Building).where(Building.code == building_code))
    users = []
    for i in range(n):
        u = User(telegram_id=first + i, first_name=f"居民{i}", locale=locale, building_id=building.id,
                 grid_id=building.grid_id, registered_at=utcnow(), unreachable=i < unreachable, roles=[])
        s.add(u)
        users.append(u)
    await s.flush()
    return users


def _label(locale: str) -> str:
    return {"zh-Hans": "我已阅读", "zh-Hant": "我已閱讀", "en": "I have read it"}[locale]


async def test_scopes_follow_roles_and_forged_ids_are_refused(demo_sessionmaker):
    async with demo_sessionmaker() as s:
        admin, staff, other_staff, head, worker, resident = [await _user(s, t) for t in (
            ADMIN, STAFF_XS, STAFF_MZ, HEAD_XS01, WORKER_XS01, RESIDENT_XS01)]
        xs = await _code(s, Community, "DC-XS")
        mz = await _code(s, Community, "DC-MZ")
        xs01 = await _code(s, Grid, "DC-XS-01")
        xs02 = await _code(s, Grid, "DC-XS-02")
        b = await _code(s, Building, "DC-XS-01-02")
        roots = await svc.root_refs(s, staff, "zh-Hans")
        assert [r.type for r, _ in roots] == [BroadcastScope.community] and roots[0][0].id == xs
        node = await svc.scope_node(s, staff, ScopeRef(BroadcastScope.community, xs), "en")
        assert node.child_type == BroadcastScope.grid and xs01 in [c.id for c in node.children]
        # Staff: their community and anything in it; not another community.
        for ref in (ScopeRef(BroadcastScope.grid, xs02), ScopeRef(BroadcastScope.building, b)):
            await svc.check_scope(s, staff, ref)
        for forged in (ScopeRef(BroadcastScope.community, mz), ScopeRef(BroadcastScope.district, 1),
                       ScopeRef(BroadcastScope.grid, 999999)):
            with pytest.raises(NotAllowed):
                await svc.check_scope(s, staff, forged)
            with pytest.raises(NotAllowed):
                await svc.preview(s, staff, forged, BroadcastAudience.residents, "en")
        # A grid head: their grid and its buildings only.
        await svc.check_scope(s, head, ScopeRef(BroadcastScope.building, b))
        with pytest.raises(NotAllowed):
            await svc.check_scope(s, head, ScopeRef(BroadcastScope.grid, xs02))
        with pytest.raises(NotAllowed):
            await svc.check_scope(s, head, ScopeRef(BroadcastScope.community, xs))
        # The admin: the whole district.
        district = (await svc.root_refs(s, admin, "en"))[0][0]
        await svc.check_scope(s, admin, ScopeRef(BroadcastScope.community, mz))
        assert district.type == BroadcastScope.district
        # Workers (not heads), residents and other staff's forged ids: nothing.
        for nobody in (worker, resident):
            assert not may_oversee(nobody)
            with pytest.raises(NotAllowed):
                svc.require_broadcaster(nobody)
            with pytest.raises(NotAllowed):
                await svc.root_refs(s, nobody, "en")
            with pytest.raises(NotAllowed):
                await svc.create_broadcast(s, nobody, ref=ScopeRef(BroadcastScope.grid, xs01),
                                           audience=BroadcastAudience.residents, text="x", now=utcnow(),
                                           locale="en", default_locale="zh-Hans")
        with pytest.raises(NotAllowed):
            await svc.create_broadcast(s, other_staff, ref=ScopeRef(BroadcastScope.grid, xs01),
                                       audience=BroadcastAudience.residents, text="x", now=utcnow(),
                                       locale="en", default_locale="zh-Hans")


async def test_preview_counts_and_queue_rows_per_language(demo_sessionmaker):
    async with demo_sessionmaker() as s:
        staff = await _user(s, STAFF_XS)
        xs01 = await _code(s, Grid, "DC-XS-01")
        zh = await _add_residents(s, "DC-XS-01-01", 5, first=8200000000, unreachable=1)
        en = await _add_residents(s, "DC-XS-01-03", 2, first=8200000100, locale="en")
        s.add(User(telegram_id=None, first_name="代登记", building_id=zh[0].building_id, grid_id=xs01,
                   registered_at=utcnow(), roles=[]))
        await _add_residents(s, "DC-XS-02-01", 3, first=8200000200)  # another grid
        await s.flush()
        ref = ScopeRef(BroadcastScope.grid, xs01)
        residents = await svc.preview(s, staff, ref, BroadcastAudience.residents, "en")
        # Demo resident 7000000040 + 4 reachable + 2 English; 1 blocked + 1 without Telegram.
        assert (residents.recipients, residents.unreachable) == (7, 2)
        workers = await svc.preview(s, staff, ref, BroadcastAudience.workers, "en")
        assert workers.recipients == 3  # the grid head and two workers
        both = await svc.preview(s, staff, ref, BroadcastAudience.both, "en")
        assert both.recipients == 10
        building = await svc.preview(s, staff, ScopeRef(BroadcastScope.building, zh[0].building_id),
                                     BroadcastAudience.residents, "en")
        assert building.recipients == 4
        now = utcnow()
        b = await svc.create_broadcast(s, staff, ref=ref, audience=BroadcastAudience.both, text="<b>停水通知</b>",
                                       ack_requested=True, now=now, locale="zh-Hans", default_locale="zh-Hans",
                                       ack_label=_label, ack_callback=lambda i: f"bca:{i}")
        await s.commit()
        assert b.total == 10 and b.followup_at == now + timedelta(hours=24)
        rows = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.broadcast_id == b.id)))
        assert len(rows) == 10 and {r.status for r in rows} == {OutboxStatus.pending}
        by_chat = {r.chat_id: r.payload for r in rows}
        assert by_chat[en[0].telegram_id]["buttons"] == [[{"text": "I have read it", "callback_data": f"bca:{b.id}"}]]
        assert by_chat[zh[1].telegram_id]["buttons"][0][0]["text"] == "我已阅读"
        # Signed by the community the staff member speaks for, in each recipient's language (issue 20).
        assert by_chat[zh[1].telegram_id]["text"] == "📢 来自新站社区的通知\n\n<b>停水通知</b>"
        assert by_chat[en[0].telegram_id]["text"] == "📢 Notice from Xinzhan Community\n\n<b>停水通知</b>"
        assert zh[0].telegram_id not in by_chat  # blocked the bot


async def test_content_and_schedule_are_validated(demo_sessionmaker):
    async with demo_sessionmaker() as s:
        staff = await _user(s, STAFF_XS)
        ref = ScopeRef(BroadcastScope.grid, await _code(s, Grid, "DC-XS-01"))
        now = utcnow()
        cases = [({"text": "  "}, "broadcast_empty"), ({"text": "x" * 4097}, "broadcast_too_long"),
                 ({"text": "x" * 1025, "photo": "AgAD"}, "broadcast_too_long"),
                 ({"text": "x", "photo": "A", "document": "B"}, "broadcast_one_attachment"),
                 ({"text": "x", "scheduled_at": now - timedelta(minutes=1)}, "schedule_past"),
                 ({"text": "x", "scheduled_at": now + timedelta(days=31)}, "schedule_too_far")]
        for kw, code in cases:
            with pytest.raises(InvalidInput) as err:
                await svc.create_broadcast(s, staff, ref=ref, audience=BroadcastAudience.residents, now=now,
                                           locale="en", default_locale="zh-Hans", **kw)
            assert err.value.code == code
        empty = ScopeRef(BroadcastScope.building, await _code(s, Building, "DC-XS-02-02"))
        with pytest.raises(InvalidInput) as err:
            await svc.create_broadcast(s, staff, ref=empty, audience=BroadcastAudience.residents, text="x",
                                       now=now, locale="en", default_locale="zh-Hans")
        assert err.value.code == "no_recipients"
        later = now + timedelta(hours=3)
        b = await svc.create_broadcast(s, staff, ref=ref, audience=BroadcastAudience.workers, text="明早开会",
                                       scheduled_at=later, now=now, locale="en", default_locale="zh-Hans")
        due = set(await s.scalars(select(OutboxMessage.next_attempt_at).where(OutboxMessage.broadcast_id == b.id)))
        assert due == {later}


async def test_pause_resume_cancel_are_checked(demo_sessionmaker):
    async with demo_sessionmaker() as s:
        staff, other, admin, head = [await _user(s, t) for t in (STAFF_XS, STAFF_MZ, ADMIN, HEAD_XS01)]
        ref = ScopeRef(BroadcastScope.grid, await _code(s, Grid, "DC-XS-01"))
        await _add_residents(s, "DC-XS-01-01", 4, first=8200000300)
        b = await svc.create_broadcast(s, head, ref=ref, audience=BroadcastAudience.residents, text="x",
                                       now=utcnow(), locale="en", default_locale="zh-Hans")
        await s.commit()
        await s.execute(update(OutboxMessage).where(OutboxMessage.broadcast_id == b.id,
                                                    OutboxMessage.chat_id == 8200000300)
                        .values(status=OutboxStatus.claimed, lease_owner="x"))
        with pytest.raises(NotAllowed):
            await svc.pause(s, other, b.id)  # another community's staff: a forged button
        with pytest.raises(NotAllowed):
            await svc.progress(s, b.id, utcnow(), actor=other)
        await svc.pause(s, staff, b.id)  # the community's staff may, though head created it
        claimed = await s.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.broadcast_id == b.id, OutboxMessage.status == OutboxStatus.claimed))
        assert claimed == 0
        with pytest.raises(Conflict):
            await svc.pause(s, staff, b.id)
        await svc.resume(s, head, b.id)
        await svc.cancel(s, admin, b.id, utcnow())
        with pytest.raises(Conflict):
            await svc.resume(s, head, b.id)
        await s.commit()
        p = await svc.progress(s, b.id, utcnow(), actor=head)
        assert p.status == BroadcastStatus.cancelled and p.cancelled == 5 and p.remaining == 0


async def test_acknowledge_only_by_recipients_and_followups(demo_sessionmaker):
    async with demo_sessionmaker() as s:
        staff, worker, stranger = [await _user(s, t) for t in (STAFF_XS, WORKER_XS01, STAFF_MZ)]
        residents = await _add_residents(s, "DC-XS-01-01", 3, first=8200000400)
        ref = ScopeRef(BroadcastScope.building, residents[0].building_id)
        now = utcnow()
        b = await svc.create_broadcast(s, staff, ref=ref, audience=BroadcastAudience.residents, text="<i>停电</i>",
                                       ack_requested=True, now=now, locale="en", default_locale="zh-Hans",
                                       ack_label=_label, ack_callback=lambda i: f"bca:{i}")
        plain = await svc.create_broadcast(s, staff, ref=ref, audience=BroadcastAudience.residents, text="x",
                                           now=now, locale="en", default_locale="zh-Hans")
        await s.commit()
        await s.execute(update(OutboxMessage).where(OutboxMessage.chat_id == residents[2].telegram_id,
                                                    OutboxMessage.broadcast_id == b.id)
                        .values(status=OutboxStatus.unreachable))
        assert await svc.acknowledge(s, residents[0], b.id, now) is True
        assert await svc.acknowledge(s, residents[0], b.id, now) is False  # a double tap
        for forged_user, forged_id in ((stranger, b.id), (residents[1], plain.id), (residents[1], 999999)):
            with pytest.raises(NotAllowed):
                await svc.acknowledge(s, forged_user, forged_id, now)
        assert await svc.due_followups(s, now + timedelta(hours=23)) == []
        [(broadcast, items)] = await svc.due_followups(s, now + timedelta(hours=24, minutes=1))
        assert broadcast.id == b.id and len(items) == 1
        item = items[0]
        assert worker.id in [w.id for w in item.workers]
        assert [(r.user_id, r.delivery) for r in item.residents] == [
            (residents[1].id, OutboxStatus.pending), (residents[2].id, OutboxStatus.unreachable)]
        await svc.mark_followup_sent(s, b.id, now)
        assert await svc.due_followups(s, now + timedelta(hours=25)) == []
        assert (await s.get(Broadcast, b.id)).followup_sent_at is not None


async def test_followup_job_lists_unconfirmed_residents_to_their_grid_workers(demo_sessionmaker):
    from bot.config import Settings
    from bot.jobs import JobContext
    from bot.services.broadcasts.jobs import ack_followups

    sm = demo_sessionmaker
    async with sm() as s:
        staff, worker, head = [await _user(s, t) for t in (STAFF_XS, WORKER_XS01, HEAD_XS01)]
        residents = await _add_residents(s, "DC-XS-01-01", 2, first=8200000500)
        residents[1].phone = "+8613900000099"
        now = utcnow()
        b = await svc.create_broadcast(s, staff, ref=ScopeRef(BroadcastScope.grid, residents[0].grid_id),
                                       audience=BroadcastAudience.residents, text="<b>明天停水</b>",
                                       ack_requested=True, now=now, locale="zh-Hans", default_locale="zh-Hans",
                                       ack_label=_label, ack_callback=lambda i: f"bca:{i}")
        await svc.acknowledge(s, residents[0], b.id, now)
        worker.locale = "en"
        await s.commit()
    settings = Settings(_env_file=None)
    for _ in range(2):  # a second run sends nothing new
        await ack_followups(JobContext(sm, settings, now + timedelta(hours=24), now + timedelta(hours=24, minutes=5)))
    async with sm() as s:
        rows = list(await s.scalars(select(OutboxMessage).where(OutboxMessage.dedupe_key.like("bc-follow:%"))
                                    .order_by(OutboxMessage.chat_id)))
    assert {r.user_id for r in rows} >= {worker.id, head.id}
    # Only the workers and the head of the residents' own grid get the list.
    async with sm() as s:
        team = set(await s.scalars(field_team_ids([residents[0].grid_id])))
    assert {r.user_id for r in rows} <= team
    english = next(r for r in rows if r.user_id == worker.id).payload["text"]
    assert "have not confirmed notice" in english and "Xinzhan Grid 1" in english and "明天停水" in english
    # The phone is masked (issue 16: minimum necessary), never whole.
    assert "139****0099" in english and "13900000099" not in english
    assert residents[0].first_name not in english.split("\n\n")[1]
    # The demo resident of the grid did not confirm either.
    assert english.count("• ") == 2


def test_progress_text_tells_quiet_hours_and_unknowns():
    from datetime import UTC, datetime

    from bot.config import Settings
    from bot.delivery.progress import in_locale, progress_keyboard, progress_text
    from bot.i18n import create_i18n

    settings = Settings(_env_file=None, QUIET_HOURS="22:00-07:00")
    night = datetime(2026, 12, 1, 23, 0, tzinfo=settings.tz).astimezone(UTC)
    p = svc.Progress(id=7, status=BroadcastStatus.active, total=100, sent=0, failed=0, unreachable=2, unknown=1,
                     cancelled=0, remaining=97, scheduled_at=None, first_sent_at=None, last_sent_at=None,
                     finished_at=None, estimated_finish=None, acks=0, ack_requested=True)
    i18n = create_i18n("zh-Hans")
    with in_locale(i18n, "en"):
        text = progress_text(p, night, settings)
        buttons = [b.text for row in progress_keyboard(p).inline_keyboard for b in row]
    assert "Notice #7: sending" in text and "Quiet hours: it goes out from 2026-12-02 07:00" in text
    assert "Unknown (may or may not have arrived): 1" in text and "Confirmed as read: 0" in text
    assert buttons == ["⏸ Pause", "✖️ Cancel the notice", "🔄 Refresh"]
    with in_locale(i18n, "zh-Hans"):
        assert "通知 #7：发送中" in progress_text(p, night, settings)


async def test_a_notice_is_signed_by_the_office_never_the_person(demo_sessionmaker):
    """Issue 20: the grid head signs with the grid, an administrator with the district."""
    async with demo_sessionmaker() as s:
        await _add_residents(s, "DC-XS-01-01", 1, first=8500000000)
        grid = ScopeRef(BroadcastScope.grid, await _code(s, Grid, "DC-XS-01"))
        community = ScopeRef(BroadcastScope.community, await _code(s, Community, "DC-XS"))
        signed = {}
        for who, ref in ((HEAD_XS01, grid), (ADMIN, community)):
            sender = await _user(s, who)
            b = await svc.create_broadcast(s, sender, ref=ref, audience=BroadcastAudience.residents, text="通知",
                                           now=utcnow(), locale="zh-Hans", default_locale="zh-Hans")
            row = await s.scalar(select(OutboxMessage).where(OutboxMessage.broadcast_id == b.id,
                                                             OutboxMessage.chat_id == 8500000000))
            signed[who] = (row.payload["text"], sender.first_name)
    assert signed[HEAD_XS01][0] == "📢 来自新站社区第一网格的通知\n\n通知"
    assert signed[ADMIN][0] == "📢 来自东昌区的通知\n\n通知"
    assert not [t for t, name in signed.values() if name and name in t]


async def test_a_broadcast_is_finished_once_no_row_is_open(demo_sessionmaker):
    async with demo_sessionmaker() as s:
        head = await _user(s, HEAD_XS01)
        ref = ScopeRef(BroadcastScope.grid, await _code(s, Grid, "DC-XS-01"))
        await _add_residents(s, "DC-XS-01-01", 3, first=8200000500)
        b = await svc.create_broadcast(s, head, ref=ref, audience=BroadcastAudience.residents, text="x",
                                       now=utcnow(), locale="en", default_locale="zh-Hans")
        await s.commit()
        rows = list(await s.scalars(select(OutboxMessage.id).where(OutboxMessage.broadcast_id == b.id)
                                    .order_by(OutboxMessage.id)))
        for status in (OutboxStatus.pending, OutboxStatus.claimed, OutboxStatus.sending):
            await s.execute(update(OutboxMessage).where(OutboxMessage.broadcast_id == b.id)
                            .values(status=OutboxStatus.sent))
            await s.execute(update(OutboxMessage).where(OutboxMessage.id == rows[-1]).values(status=status))
            assert not await svc.finish_if_drained(s, b.id, utcnow()), status  # one open row is enough
        await s.execute(update(OutboxMessage).where(OutboxMessage.id == rows[-1])
                        .values(status=OutboxStatus.unknown))
        assert await svc.finish_if_drained(s, b.id, utcnow())
        assert not await svc.finish_if_drained(s, b.id, utcnow())  # done already: one process wins
        await s.commit()
        assert (await s.get(Broadcast, b.id)).status == BroadcastStatus.done


def test_the_progress_monitor_waits_longer_after_a_costly_tick():
    from bot.config import Settings
    from bot.delivery.progress import PROGRESS_INTERVAL, TICK_COST_FACTOR, BroadcastMonitor

    monitor = BroadcastMonitor(None, None, Settings(_env_file=None), None)  # type: ignore[arg-type]
    assert monitor.pause_after(0.01) == PROGRESS_INTERVAL  # a small broadcast: every few seconds
    # Counting 2 million rows took 0.4 s: the next count comes after 20 times that.
    assert monitor.pause_after(0.4) == 0.4 * TICK_COST_FACTOR > PROGRESS_INTERVAL
