"""Appointments, the staff side: agenda and who sees phones, attendance and the
no-show offer, closures and holidays with rebooking, plans, proxy bookings,
and the follow-up cases of issue 3."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.services import appointments as appt
from bot.services import offline
from bot.services.appointments import followup, staff
from bot.services.appointments.jobs import sweep_holidays
from bot.services.appointments.texts import mask_phone
from bot.services.errors import Conflict, InvalidInput, NotAllowed, NotFound
from models import (
    AccessAction,
    AccessLog,
    Appointment,
    AppointmentSlot,
    AppointmentStatus,
    CancelReason,
    Case,
    CaseKind,
    CaseStatus,
    FollowUp,
    Holiday,
    HolidayKind,
    OutboxStatus,
)
from tests.unit.appointments.world import SETTINGS, T0, at, make_appt_world, outbox_rows


async def _book(s, aw, who, when, service=None):  # type: ignore[no-untyped-def]
    return await appt.book(s, SETTINGS, who, station_id=aw.station.id, service_id=(service or aw.visit).id,
                           starts_at=when, now=T0)


def _callbacks(row) -> list[str]:  # type: ignore[no-untyped-def]
    return [b.get("callback_data", "") for line in row.payload.get("buttons", []) for b in line]


async def test_agenda_masks_phones_except_for_the_station_staff(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        w = aw.w
        await _book(s, aw, w.resident, at(2, "10:00"))
        await _book(s, aw, w.neighbour, at(2, "09:00"), aw.advice)
        cancelled = await _book(s, aw, w.stranger, at(2, "14:00"))
        await appt.cancel(s, SETTINGS, w.stranger, cancelled.id, T0)
        full = await staff.agenda(s, SETTINGS, w.staff, aw.station.id, date(2026, 12, 2), "zh-Hans")
        assert [(line.resident, line.phone) for line in full.lines] == [
            (w.neighbour.first_name, w.neighbour.phone), (w.resident.first_name, w.resident.phone)]
        assert full.cancelled == 1 and full.can_mark and full.full_phones
        assert [line.service for line in full.lines] == ["政策咨询", "预约到站办事"]
        for viewer in (w.worker, w.admin, w.head):
            masked = await staff.agenda(s, SETTINGS, viewer, aw.station.id, date(2026, 12, 2), "en")
            assert masked.lines[1].phone == mask_phone(w.resident.phone) != w.resident.phone
            assert "****" in masked.lines[1].phone and not masked.can_mark
        assert (await staff.agenda(s, SETTINGS, w.admin, aw.station.id, date(2026, 12, 2), "en")).can_manage
        for outsider in (w.other_staff, w.other_worker, w.resident, w.officer):
            with pytest.raises(NotFound):
                await staff.agenda(s, SETTINGS, outsider, aw.station.id, date(2026, 12, 2), "en")
        assert [st.name for st in await staff.my_stations(s, w.staff, "en")] == ["Station 1"]
        assert [st.name for st in await staff.my_stations(s, w.admin, "en")] == ["Station 1", "Station 2"]
        card = await staff.booking_card(s, SETTINGS, w.worker, full.lines[1].id, "en")
        assert card.line.phone == mask_phone(w.resident.phone)


async def test_marking_attendance_and_the_no_show_offer(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        w = aw.w
        a = await _book(s, aw, w.resident, at(2, "10:00"))
        # Too early: not on the day for attended, not started for no-show.
        with pytest.raises(InvalidInput, match="appt_mark_early"):
            await staff.mark(s, SETTINGS, w.staff, a.id, attended=True, now=T0)
        with pytest.raises(InvalidInput, match="appt_mark_early"):
            await staff.mark(s, SETTINGS, w.staff, a.id, attended=False, now=at(2, "09:59"))
        # Only the station's own staff mark; a worker or an admin may not, another community cannot see it.
        for other, error in ((w.worker, NotAllowed), (w.admin, NotAllowed), (w.other_staff, NotFound)):
            with pytest.raises(error):
                await staff.mark(s, SETTINGS, other, a.id, attended=False, now=at(2, "10:20"))
        await staff.mark(s, SETTINGS, w.staff, a.id, attended=False, now=at(2, "10:20"))
        assert a.status == AppointmentStatus.no_show and a.follow_up == FollowUp.offered
        offer = (await outbox_rows(s, f"appt:{a.id}:noshow"))[0]
        assert offer.user_id == w.resident.id
        assert _callbacks(offer) == [appt.ap_cb("fpx", b=a.id), appt.ap_cb("fhv", b=a.id),
                                     appt.ap_cb("stn", sv=aw.visit.id, st=aw.station.id)]
        with pytest.raises(Conflict, match="appt_already_marked"):
            await staff.mark(s, SETTINGS, w.staff, a.id, attended=False, now=at(2, "10:21"))
        assert await appt.no_show_count(s, w.resident.id) == 1
        # A correction: they came after all.
        await staff.mark(s, SETTINGS, w.staff, a.id, attended=True, now=at(2, "10:40"))
        assert a.status == AppointmentStatus.attended and await appt.no_show_count(s, w.resident.id) == 0
        b = await _book(s, aw, w.neighbour, at(2, "11:00"))
        await staff.mark(s, SETTINGS, w.staff, b.id, attended=True, now=at(2, "08:00"))  # early arrival is fine
        line = (await staff.agenda(s, SETTINGS, w.staff, aw.station.id, date(2026, 12, 2), "en")).lines
        assert [x.status for x in line] == [AppointmentStatus.attended, AppointmentStatus.attended]


async def test_follow_up_opens_a_case_once(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        w = aw.w
        a = await _book(s, aw, w.resident, at(2, "10:00"))
        b = await _book(s, aw, w.neighbour, at(2, "10:00"))
        with pytest.raises(Conflict, match="appt_not_missed"):
            await followup.home_visit(s, SETTINGS, w.resident, a.id, at(2, "11:00"))
        for x in (a, b):
            await staff.mark(s, SETTINGS, w.staff, x.id, attended=False, now=at(2, "10:30"))
        opened = await followup.home_visit(s, SETTINGS, w.resident, a.id, at(2, "11:00"))
        case = await s.get(Case, opened.case_id)
        assert case.kind == CaseKind.request and case.status == CaseStatus.new and case.resident_id == w.resident.id
        assert "预约到站办事" in case.description
        assert a.follow_up == FollowUp.home_visit and a.follow_up_case_id == case.id
        with pytest.raises(Conflict, match="appt_followup_done"):
            await followup.proxy_errand(s, SETTINGS, w.resident, a.id, w.proxy_item.id, at(2, "11:00"))
        # Someone else's missed appointment cannot be followed up.
        with pytest.raises(NotFound):
            await followup.home_visit(s, SETTINGS, w.resident, b.id, at(2, "11:00"))
        options = await followup.proxy_services(s, "en")
        assert [o.id for o in options] == [w.proxy_item.id]
        with pytest.raises(NotFound):
            await followup.proxy_errand(s, SETTINGS, w.neighbour, b.id, aw.visit.id, at(2, "11:00"))
        opened = await followup.proxy_errand(s, SETTINGS, w.neighbour, b.id, w.proxy_item.id, at(2, "11:00"))
        case = await s.get(Case, opened.case_id)
        assert case.kind == CaseKind.proxy and case.service_id == w.proxy_item.id and case.authorisation
        assert b.follow_up == FollowUp.proxy


async def test_closing_a_day_cancels_and_offers_one_tap_rebooking(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        w = aw.w
        a = await _book(s, aw, w.resident, at(3, "10:00"))
        b = await _book(s, aw, w.neighbour, at(3, "14:00"), aw.advice)
        other_day = await _book(s, aw, w.stranger, at(4, "10:00"))
        for outsider, error in ((w.worker, NotAllowed), (w.other_staff, NotFound), (w.resident, NotFound)):
            with pytest.raises(error):
                await staff.close_day(s, SETTINGS, outsider, aw.station.id, date(2026, 12, 3), "", T0)
        with pytest.raises(InvalidInput, match="appt_closure_past"):
            await staff.close_day(s, SETTINGS, w.staff, aw.station.id, date(2026, 11, 30), "", T0)
        assert await staff.closure_preview(s, SETTINGS, w.staff, aw.station.id, date(2026, 12, 3), T0) == 2
        assert await staff.close_day(s, SETTINGS, w.staff, aw.station.id, date(2026, 12, 3), "停电", T0) == 2
        with pytest.raises(Conflict, match="appt_closure_exists"):
            await staff.close_day(s, SETTINGS, w.admin, aw.station.id, date(2026, 12, 3), "", T0)
        for x in (a, b):
            await s.refresh(x)
            assert (x.status, x.cancel_reason) == (AppointmentStatus.cancelled, CancelReason.closure)
            assert (await s.get(AppointmentSlot, x.slot_id)).booked == 0
            assert {r.status for r in await outbox_rows(s, f"appt:{x.id}:v")} == {OutboxStatus.cancelled}
        assert (await s.get(Appointment, other_day.id)).status == AppointmentStatus.booked
        notice = (await outbox_rows(s, f"appt:{a.id}:off"))[0]
        assert "停电" in notice.payload["text"] and notice.user_id == w.resident.id
        callbacks = _callbacks(notice)
        assert len(callbacks) == 4 and callbacks[-1] == appt.ap_cb("rbo", b=a.id)
        # The suggested times are the nearest free ones, never on the closed day.
        suggested = [appt.slot_from_code(int(c.split(":")[4])) for c in callbacks[:3]]
        assert all(x.astimezone(SETTINGS.tz).date() != date(2026, 12, 3) for x in suggested)
        assert suggested == sorted(suggested)
        with pytest.raises(InvalidInput, match="appt_closed"):
            await _book(s, aw, w.resident, at(3, "11:00"))
        # Reopening takes bookings again; the cancelled ones stay cancelled.
        await staff.reopen_day(s, SETTINGS, w.staff, aw.station.id, date(2026, 12, 3), T0)
        with pytest.raises(Conflict, match="appt_not_closed"):
            await staff.reopen_day(s, SETTINGS, w.staff, aw.station.id, date(2026, 12, 3), T0)
        await _book(s, aw, w.resident, at(3, "11:00"))


async def test_public_holiday_sweep_cancels_and_tells(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        a = await _book(s, aw, aw.w.resident, at(3, "10:00"))
        b = await _book(s, aw, aw.w.neighbour, at(4, "10:00"))
        assert await sweep_holidays(s, SETTINGS, T0) == 0
        s.add(Holiday(day=date(2026, 12, 3), kind=HolidayKind.holiday, name="test"))
        s.add(Holiday(day=date(2026, 12, 5), kind=HolidayKind.workday, name="调休"))
        await s.flush()
        assert await sweep_holidays(s, SETTINGS, T0) == 1
        assert await sweep_holidays(s, SETTINGS, T0) == 0  # nothing twice
        await s.refresh(a)
        await s.refresh(b)
        assert (a.status, a.cancel_reason, b.status) == (AppointmentStatus.cancelled, CancelReason.holiday,
                                                         AppointmentStatus.booked)
        notice = (await outbox_rows(s, f"appt:{a.id}:off"))[0]
        assert "法定节假日" in notice.payload["text"] or "public holiday" in notice.payload["text"]


async def test_staff_edit_and_pause_plans(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        w = aw.w
        a = await _book(s, aw, w.resident, at(2, "16:30"))
        plans = await staff.station_plans(s, SETTINGS, w.staff, aw.station.id, "en")
        assert [(p.service, p.plan.active) for p in plans] == [
            ("Proof of residence", False), ("Station visit", True), ("Policy advice", True), ("Home visit", True)]
        with pytest.raises(NotAllowed):
            await staff.save_plan(s, SETTINGS, w.worker, aw.station.id, aw.visit.id, "seats 3", T0)
        plan, outside = await staff.save_plan(s, SETTINGS, w.staff, aw.station.id, aw.visit.id,
                                              "wed 08:30-11:30 13:30-16:00\nseats 3", T0)
        assert plan.capacity == 3 and outside == 1  # 16:30 is no longer a slot; the booking is kept
        assert (await s.get(Appointment, a.id)).status == AppointmentStatus.booked
        free = await appt.free_slots_of_day(s, SETTINGS, aw.station.id, aw.visit.id, date(2026, 12, 2), T0)
        assert free[-1].starts_at == at(2, "15:30") and free[0].seats_left == 3
        await staff.set_plan_active(s, SETTINGS, w.admin, aw.station.id, aw.visit.id, False, T0)
        with pytest.raises(NotFound, match="appt_service"):
            await _book(s, aw, w.neighbour, at(2, "10:00"))
        stations = await appt.stations_for(s, SETTINGS, w.neighbour, aw.visit.id, "en", T0)
        assert [o.id for o in stations] == [aw.station2.id]  # still bookable at the other station
        # A proxy errand made bookable by staff.
        await staff.set_plan_active(s, SETTINGS, w.staff, aw.station.id, w.proxy_item.id, True, T0)
        await _book(s, aw, w.neighbour, at(2, "10:00"), w.proxy_item)


async def test_worker_books_for_a_resident_without_telegram(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        w = aw.w
        with pytest.raises(InvalidInput, match="bad_phone"):
            await offline.add_offline_resident(s, w.worker, "王奶奶", "call me", T0)
        with pytest.raises(InvalidInput, match="appt_name"):
            await offline.add_offline_resident(s, w.worker, "  ", "13900001111", T0)
        with pytest.raises(NotAllowed):
            await offline.add_offline_resident(s, w.resident, "王奶奶", "13900001111", T0)
        granny, new = await offline.add_offline_resident(s, w.worker, "王奶奶", "139 0000 1111", T0)
        assert new and granny.telegram_id is None and granny.phone == "13900001111"
        assert granny.grid_id == w.place.grids[0].id
        same, new = await offline.add_offline_resident(s, w.worker2, "王秀英", "13900001111", T0)
        assert same.id == granny.id and not new
        assert [u.id for u in await offline.offline_residents(s, w.worker)] == [granny.id]
        assert await offline.offline_residents(s, w.other_worker) == []
        a = await appt.book(s, SETTINGS, w.worker, station_id=aw.station.id, service_id=aw.visit.id,
                            starts_at=at(2, "10:00"), now=T0, resident_id=granny.id)
        assert a.proxy and a.booked_by_id == w.worker.id and a.resident_id == granny.id
        # No Telegram: the worker who booked gets the day-before reminder, with the phone to ring.
        (reminder,) = await outbox_rows(s, f"appt:{a.id}:")
        assert reminder.dedupe_key.endswith(":r24w") and reminder.user_id == w.worker.id
        assert "13900001111" in reminder.payload["text"]
        # The phone went out to the worker: the access log says so.
        logged = (await s.execute(select(AccessLog.actor_id, AccessLog.subject_id, AccessLog.object_id).where(
            AccessLog.action == AccessAction.phone_viewed, AccessLog.object_type == "appointment"))).all()
        assert (w.worker.id, granny.id, a.id) in logged
        # Another worker of the same grid may change it; a worker of another grid may not.
        with pytest.raises(NotFound):
            await appt.cancel(s, SETTINGS, w.other_worker, a.id, T0)
        with pytest.raises(NotFound):
            await appt.book(s, SETTINGS, w.other_worker, station_id=aw.station.id, service_id=aw.visit.id,
                            starts_at=at(2, "11:00"), now=T0, resident_id=granny.id)
        moved = await appt.reschedule(s, SETTINGS, w.worker2, a.id, at(2, "14:00"), T0)
        assert moved.version == 2
        listed = await appt.upcoming(s, SETTINGS, w.worker, "zh-Hans", T0, resident_id=granny.id)
        assert [v.id for v in listed] == [a.id] and listed[0].proxy
        # A no-show: the worker is asked to ring and offer a proxy errand or a home visit.
        await staff.mark(s, SETTINGS, w.staff, a.id, attended=False, now=at(2, "14:10"))
        (offer,) = await outbox_rows(s, f"appt:{a.id}:noshow")
        assert offer.user_id == w.worker.id and "13900001111" in offer.payload["text"]
        agenda = await staff.agenda(s, SETTINGS, w.staff, aw.station.id, date(2026, 12, 2), "en")
        assert agenda.lines[0].proxy and agenda.lines[0].status == AppointmentStatus.no_show
        assert agenda.lines[0].no_shows == 0  # missed *before* this one
        assert (await staff.booking_card(s, SETTINGS, w.staff, a.id, "en")).line.no_shows == 1
        assert (await staff.booking_card(s, SETTINGS, w.staff, a.id, "en")).booked_by == w.worker.first_name
        rows = await s.scalars(select(Appointment.id).where(Appointment.resident_id == granny.id))
        assert list(rows) == [a.id]


async def test_closure_of_a_proxy_booking_tells_the_worker(sessionmaker):
    async with sessionmaker() as s:
        aw = await make_appt_world(s)
        w = aw.w
        granny, _ = await offline.add_offline_resident(s, w.worker, "王奶奶", "13900001111", T0)
        a = await appt.book(s, SETTINGS, w.worker, station_id=aw.station.id, service_id=aw.visit.id,
                            starts_at=at(3, "10:00"), now=T0, resident_id=granny.id)
        await staff.close_day(s, SETTINGS, w.staff, aw.station.id, date(2026, 12, 3), "", T0 + timedelta(hours=1))
        (notice,) = await outbox_rows(s, f"appt:{a.id}:off")
        assert notice.user_id == w.worker.id and "王奶奶" in notice.payload["text"]
