"""bot.services.place_search: a building found by the words people really type."""

from __future__ import annotations

import pytest

from bot.services import users
from bot.services.place_search import CONTIGUOUS, IN_ORDER, match, normalize


@pytest.mark.parametrize(("query", "name", "fit"), [
    ("铁路小区2号楼", "铁路小区2号楼", CONTIGUOUS),
    ("铁路小区二号楼", "铁路小区2号楼", CONTIGUOUS),      # the number in Chinese
    ("铁路2号", "铁路小区2号楼", IN_ORDER),               # a word left out
    ("站前 ２号", "站前小区2号楼", IN_ORDER),             # a full-width digit and a space
    ("十二栋", "新村12栋", CONTIGUOUS),
    ("二十号", "20号楼", CONTIGUOUS),
    ("tielu 2", "Tielu Estate, Building 2", IN_ORDER),
    ("TIE est", "Tielu Estate, Building 2", CONTIGUOUS),  # the starts of Latin words
    ("lq 1", "DC-LQ-01-01", CONTIGUOUS),                 # 1 is 01
    ("铁路2号", "铁路小区12号楼", None),                  # 2 is not 12
    ("2号", "站前小区12号楼", None),
    ("铁路5", "铁路小区2号楼", None),
    ("号楼2", "铁路小区2号楼", None),                     # the order counts
    ("？！", "铁路小区2号楼", None),                      # nothing to look for
])
def test_match(query: str, name: str, fit: int | None) -> None:
    assert match(query, name) == fit


def test_numbers_in_chinese_become_digits() -> None:
    assert normalize("一百零五号 二〇二六年 两栋 十栋 第一网格") == "105号2026年2栋10栋第1网格"


async def test_the_closest_fits_come_first(demo_sessionmaker) -> None:  # type: ignore[no-untyped-def]
    async with demo_sessionmaker() as s:
        found = await users.search_buildings(s, "铁路二号楼", "zh-Hans")
        assert [o.name for o in found][:1] == ["铁路小区2号楼"]
        loose = await users.search_buildings(s, "小区2", "zh-Hans")
        # each estate's building 2, and no building 12 or 20
        assert loose and all(o.name.endswith("2号楼") for o in loose)
