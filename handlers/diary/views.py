"""Reading diaries: a worker's day, a worker's month, a grid's day and month,
a community's day."""

from __future__ import annotations

import re
from datetime import date

from aiogram import Router
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import diary
from bot.services.bounds import MIN_YEAR, parse_int
from bot.services.dates import parse_date
from bot.services.errors import InvalidInput
from bot.services.escape import esc
from handlers.diary import ui
from handlers.diary.shared import answer_and_show, callbacks, today
from handlers.diary.ui import DiaryCb, button, markup
from models import EntryKind, User

DAY_PAGE = 10  # entries per page of a day


def _day_arg(arg: str, today_: date) -> tuple[date, int]:
    """A day button's ``day|page`` (no day: today); ``stale_button`` for anything else or a future day."""
    day_text, _sep, page_text = arg.partition("|")
    try:
        day = parse_date(day_text, today_, no_future=True) if day_text else today_
        page = parse_int(page_text, lo=0, hi=1000) if page_text else 0
    except InvalidInput:
        raise InvalidInput("stale_button") from None
    return day, page


def _month_arg(arg: str, today_: date) -> tuple[int, int]:
    """A month button's ``YYYY-MM``, not after this month; ``stale_button`` for anything else."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", arg or "")
    if not m:
        raise InvalidInput("stale_button")
    year, month = int(m.group(1)), int(m.group(2))
    if not 1 <= month <= 12 or year < MIN_YEAR or (year, month) > (today_.year, today_.month):
        raise InvalidInput("stale_button")
    return year, month


async def day_screen(session: AsyncSession, settings: Settings, user: User, worker_id: int, day: date, page: int,
                     locale: str) -> tuple[str, InlineKeyboardMarkup]:
    """A worker's diary of one day, a page of its entries at a time."""
    view = await diary.day(session, settings, user, worker_id, day, locale)
    title = _("📖 Diary of {day}").format(day=day.isoformat()) if view.own else _(
        "📖 Diary of {name}, {day}").format(name=esc(view.worker_name), day=day.isoformat())
    lines = [title]
    for p in view.patrols:
        end = ui.hm(p.ended_at, settings.tz) if p.ended_at else "…"
        lines.append(_("🚶 Patrol {start} – {end}").format(start=ui.hm(p.started_at, settings.tz), end=end))
    if not view.entries:
        lines.append(_("No entries."))
    shown, page, pages = ui.paginate(list(enumerate(view.entries, start=1)), page, DAY_PAGE)
    for number, e in shown:
        lines.append(ui.entry_line(e, settings.tz, number))
    notes = sum(1 for e in view.entries if e.kind == EntryKind.note and not e.deleted)
    if view.own and notes:
        lines.append(_("📝 Notes to tag: {count}. Tap their numbers.").format(count=notes))
    rows: list[list[InlineKeyboardButton]] = []
    numbers = [button(f"{n}", "e", e.id) for n, e in shown]
    rows += [numbers[i:i + 5] for i in range(0, len(numbers), 5)]
    if pages > 1:
        nav = []
        if page > 0:
            nav.append(button("⬆️", "day", worker_id, arg=f"{day.isoformat()}|{page - 1}"))
        nav.append(ui.page_counter(page, pages))
        if page < pages - 1:
            nav.append(button("⬇️", "day", worker_id, arg=f"{day.isoformat()}|{page + 1}"))
        rows.append(nav)
    rows.append(ui.day_nav("day", worker_id, day, today(settings)))
    rows.append([button(_("📊 Month"), "mon", worker_id, arg=day.strftime("%Y-%m"))])
    return ui.fit(lines), markup(rows)


async def day_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                 settings: Settings, i18n: PoI18n) -> None:
    day, page = _day_arg(callback_data.arg, today(settings))
    text, kb = await day_screen(session, settings, user, callback_data.id, day, page, i18n.current_locale)
    await answer_and_show(query, text, kb)


async def month_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                   settings: Settings) -> None:
    today_ = today(settings)
    year, month = _month_arg(callback_data.arg, today_)
    figs = await diary.worker_month(session, settings, user, callback_data.id, year, month)
    title = _("📊 {name}, {year}-{month:02d}").format(name=esc(figs.name), year=year, month=month)
    await answer_and_show(query, title + "\n" + ui.figures_text(figs),
                          markup([ui.month_nav("mon", callback_data.id, year, month, today_)]))


async def grid_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                  settings: Settings, i18n: PoI18n) -> None:
    today_ = today(settings)
    day, _page = _day_arg(callback_data.arg, today_)
    view = await diary.grid_day(session, settings, user, callback_data.id, day, i18n.current_locale)
    lines = [_("👥 {grid}, {day}").format(grid=esc(view.grid), day=day.isoformat())]
    rows: list[list[InlineKeyboardButton]] = []
    for w in view.workers:
        counts = " ".join(f"{diary.texts.KIND_ICONS[k]}{w.counts.get(k, 0)}" for k in EntryKind)
        lines.append(_("{name}: entries {count} ({counts}), patrols {patrols}").format(
            name=esc(w.name), count=w.entries, counts=counts, patrols=w.patrols))
        rows.append([button(f"📖 {w.name}", "day", w.worker_id, arg=day.isoformat())])
    rows.append(ui.day_nav("grid", view.grid_id, day, today_))
    rows.append([button(_("📊 Month of the grid"), "gmon", view.grid_id, arg=day.strftime("%Y-%m")),
                 button(_("📚 Household ledger"), "lg", view.grid_id)])
    await answer_and_show(query, "\n".join(lines), markup(rows))


async def grid_month_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                        settings: Settings, i18n: PoI18n) -> None:
    today_ = today(settings)
    year, month = _month_arg(callback_data.arg, today_)
    grid = await diary.grid_month(session, settings, user, callback_data.id, year, month, i18n.current_locale)
    lines = [_("📊 {grid}, {year}-{month:02d}").format(grid=esc(grid.grid), year=year, month=month),
             ui.figures_text(grid.total), ""]
    rows = []
    for f in grid.workers:
        lines.append(_("{label}: {value}").format(label=f"<b>{esc(f.name)}</b>",
                                                  value=esc(diary.texts.figures_line(_, f))))
        rows.append([button(f"📊 {f.name}", "mon", f.worker_id or 0, arg=ui.ym(year, month))])
    rows.append(ui.month_nav("gmon", grid.grid_id, year, month, today_))
    await answer_and_show(query, ui.fit(lines), markup(rows))


async def community_cb(query: CallbackQuery, callback_data: DiaryCb, session: AsyncSession, user: User,
                       settings: Settings, i18n: PoI18n) -> None:
    today_ = today(settings)
    day, _page = _day_arg(callback_data.arg, today_)
    view = await diary.community_day(session, user, callback_data.id, day, i18n.current_locale)
    lines = [_("🏘️ {community}, {day}").format(community=esc(view.community), day=day.isoformat())]
    rows: list[list[InlineKeyboardButton]] = []
    for g in view.grids:
        lines.append(_("{grid}: entries {count}, workers who logged {logged}/{workers}").format(
            grid=esc(g.grid), count=g.entries, logged=g.workers_logged, workers=g.workers))
        rows.append([button(f"👥 {g.grid}", "grid", g.grid_id, arg=day.isoformat())])
    rows.append(ui.day_nav("com", view.community_id, day, today_))
    await answer_and_show(query, "\n".join(lines), markup(rows))


def create_router() -> Router:
    router = Router(name="diary.views")
    callbacks(router, {"day": day_cb, "mon": month_cb, "grid": grid_cb, "gmon": grid_month_cb,
                       "com": community_cb})
    return router
