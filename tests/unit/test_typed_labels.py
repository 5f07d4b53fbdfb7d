"""A reply-keyboard label typed by hand (handlers.labels.typed_label)."""

from __future__ import annotations

import pytest

from bot.i18n import create_i18n
from handlers import labels
from handlers.routers import get_routers

get_routers()  # every feature's labels are loaded, as in the running bot
I18N = create_i18n()


@pytest.mark.parametrize(("locale", "typed", "label"), [
    ("zh-Hans", "发送", "✅ 发送"), ("zh-Hans", "✅发送", "✅ 发送"), ("zh-Hans", " 帮助。", "❓ 帮助"),
    ("zh-Hans", "取消", "❌ 取消"), ("zh-Hans", "反映问题", "📝 反映问题"), ("zh-Hans", "跳过", "跳过"),
    ("zh-Hans", "紧急求助", "🆘 紧急求助"), ("zh-Hans", "结束巡查", "⏹ 结束巡查"),
    ("zh-Hant", "發送", "✅ 發送"), ("zh-Hant", "幫助", "❓ 幫助"),
    ("en", "send", "✅ Send"), ("en", "Help", "❓ Help"), ("en", "my cases", "📂 My cases"),
])
def test_a_label_typed_by_hand_is_found(locale: str, typed: str, label: str) -> None:
    with I18N.use_locale(locale):
        assert labels.typed_label(typed, I18N) == label


@pytest.mark.parametrize(("locale", "typed"), [
    ("zh-Hans", "问题"), ("zh-Hans", "位置"), ("zh-Hans", "走访"),  # the diary's kinds: plain words too
    ("zh-Hans", "发送我的位置呀"), ("zh-Hans", "楼道的灯坏了"), ("zh-Hans", "发"), ("zh-Hans", "✅"),
    ("zh-Hans", "send"),  # another language's label
    ("en", "problem"), ("en", "here"), ("en", "please send someone to fix the light"),
])
def test_anything_else_is_not_a_label(locale: str, typed: str) -> None:
    with I18N.use_locale(locale):
        assert labels.typed_label(typed, I18N) is None
