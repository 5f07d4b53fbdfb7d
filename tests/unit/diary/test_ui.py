"""Pieces of the diary's chat side that need no bot: dates typed, buttons, message length, labels."""

from __future__ import annotations

from datetime import date

import pytest

from bot.i18n import create_i18n
from bot.services.dates import parse_date
from bot.services.diary.common import diary_cb
from bot.services.errors import InvalidInput
from handlers.diary.ui import DiaryCb, fit, shift_month


def test_days_typed_after_diary():
    today = date(2026, 12, 1)
    assert parse_date("2026-11-20", today, no_future=True) == date(2026, 11, 20)
    assert parse_date("11-20", today, no_future=True) == date(2026, 11, 20)
    assert parse_date("11/20", today, no_future=True) == date(2026, 11, 20)
    assert parse_date("11月20日", today, no_future=True) == date(2026, 11, 20)
    assert parse_date("12-25", today, no_future=True) == date(2025, 12, 25)  # without a year: the last such day
    for bad, code in (("2026-12-02", "date_in_future"), ("13-01", "bad_date"), ("02-30", "bad_date"),
                      ("yesterday", "bad_date"), ("", "bad_date")):
        with pytest.raises(InvalidInput) as refused:
            parse_date(bad, today, no_future=True)
        assert refused.value.code == code, bad


def test_buttons_written_by_services_are_the_handlers_callback_data():
    packed = diary_cb("grid", 12, 0, "2026-12-01")
    assert packed == DiaryCb(action="grid", id=12, ref=0, arg="2026-12-01").pack()
    assert DiaryCb.unpack(diary_cb("panel")) == DiaryCb(action="panel")


def test_long_texts_are_cut_at_whole_lines():
    lines = ["<b>title</b>"] + [f"<i>{i}</i> " + "x" * 90 for i in range(80)]
    text = fit(lines)
    assert len(text) <= 4000 and text.endswith("…") and text.count("<i>") == text.count("</i>")
    kept = fit(lines, keep_first=2)
    assert kept.startswith("<b>title</b>\n<i>0</i>") and kept.rstrip().endswith("x") and "<i>79</i>" in kept
    assert fit(["short"]) == "short"


def test_months_move_across_years():
    assert shift_month(2026, 1, -1) == (2025, 12)
    assert shift_month(2026, 12, 1) == (2027, 1)


def test_menu_labels_of_every_handler_module_in_every_language():
    from handlers.diary.shared import menu_labels
    from handlers.routers import get_routers

    get_routers()  # imports every handler module
    labels = menu_labels(create_i18n("zh-Hans"))
    assert {"👤 My profile", "👤 我的资料", "👤 我的資料", "📒 民情日志", "⏹ 结束巡查"} <= labels
    assert "楼道堆放杂物" not in labels
