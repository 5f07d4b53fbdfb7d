"""Registration of every kind of user, through the real bot and the emulator."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from bot.services.invites import create_invite
from models import Building, Case, CaseStatus, Invite, Role, User, utcnow
from tests.conftest import BOT_TOKEN
from tests.e2e.conftest import make_settings
from tests.e2e.harness import start_bot

AGREE = re.compile("^✅ (同意|I agree)$")


async def _user(sessionmaker, telegram_id: int) -> User:
    async with sessionmaker() as s:
        return await s.scalar(select(User).where(User.telegram_id == telegram_id))


async def _invite(sessionmaker, role: Role, scope: str, **kw) -> str:
    async with sessionmaker() as s:
        created = await create_invite(s, role=role, scope_code=scope, **kw)
        await s.commit()
        return created.payload


async def choose_home_from_lists(p, community: str) -> None:  # type: ignore[no-untyped-def]
    """Asked where she lives: the lists instead of typing, then the community, its first
    grid and that grid's building 1."""
    await p.tap("📋")
    await p.tap(community)
    await p.tap("第一网格")
    await p.tap("1号楼")


async def register_resident_by_buttons(p) -> None:  # type: ignore[no-untyped-def]
    """Her Telegram speaks Simplified Chinese: no language question; then the lists."""
    await p.send("/start")
    await p.tap(AGREE)  # the privacy notice
    await choose_home_from_lists(p, "新站")


async def test_first_contact_in_chinese_explains_and_finds_the_building_by_name(running, demo_sessionmaker):
    """Issue 20: Telegram's language is taken, the bot says what it is for and who answers, and the
    building is found by a few characters of its name, without choosing a grid."""
    p = running.person(running.emu.create_user(first_name="王秀英", language_code="zh-hans"))
    answer = await p.send("/start")
    assert not any("请选择语言" in (m.text or "") for m in answer)
    welcome = answer[0].text.split("\n\n")[0].split("\n")  # two lines, then the privacy notice
    assert len(welcome) == 2 and "👋" in welcome[0] and "网格员" in welcome[1]
    assert (await _user(demo_sessionmaker, p.id)).locale == "zh-Hans"
    # The privacy notice comes before anything else is stored (its agreement included).
    assert any("您的信息和您的权利" in (m.text or "") and "30 天后删除" in (m.text or "") for m in answer)
    assert (await _user(demo_sessionmaker, p.id)).privacy_consent_at is None
    answer = await p.tap("✅ 同意")
    assert any("您已同意隐私说明" in (m.text or "") for m in answer)
    assert any("您住在哪里" in (m.text or "") for m in answer)
    assert not any("哪个网格" in (m.text or "") for m in answer)
    assert "📍 发送我的位置" in p.reply_keyboard()

    found = await p.send("站前 2号")  # a few characters, a space too many
    assert "哪一栋是您家" in found[-1].text
    labels = [t for row in found[-1].inline_buttons for t, _d in row]
    assert labels[0] == "🏠 站前小区2号楼" and "❌ 取消" in labels and all(len(t) <= 28 for t in labels)
    by_address = await p.send("铁路街56")
    assert [t for row in by_address[-1].inline_buttons for t, _d in row][:2] == ["🏠 铁路小区2号楼", "🏠 铁路小区3号楼"]
    as_said = await p.send("铁路二号楼")  # a word left out, the number in Chinese
    assert [t for row in as_said[-1].inline_buttons for t, _d in row][0] == "🏠 铁路小区2号楼"
    nothing = await p.send("不存在的地方")
    assert "没有找到" in nothing[-1].text
    too_long = await p.send("长" * 5000)
    assert "输入太长了" in too_long[-1].text
    done = await p.tap("🏠 站前小区2号楼")
    assert any("✅ 您的住址" in (m.text or "") for m in done)
    assert "跳过" in p.reply_keyboard()

    finish = await p.share_contact("+8613900000001")
    assert any("手机号已保存" in (m.text or "") for m in finish)
    assert "👤 我的资料" in p.reply_keyboard()
    user = await _user(demo_sessionmaker, p.id)
    assert user.registered_at is not None and user.phone == "+8613900000001"
    async with demo_sessionmaker() as s:
        building = await s.get(Building, user.building_id)
    assert building.code == "DC-XS-01-02" and user.grid_id == building.grid_id

    # The command list Telegram shows by language is already in theirs: no list of the chat's own.
    assert running.emu.commands(scope={"type": "chat", "chat_id": p.id}) == []
    assert any(c["description"] == "主菜单" for c in running.emu.commands())
    # The language stays changeable in 我的资料.
    profile = await p.send("👤 我的资料")
    await p.press(profile[-1].message_id, next(d for row in profile[-1].inline_buttons for t, d in row
                                               if t.startswith("🌐")))
    await p.tap("English")
    assert (await _user(demo_sessionmaker, p.id)).locale == "en"
    # A language chosen is her chat's own list from then on.
    assert running.emu.commands(scope={"type": "chat", "chat_id": p.id})[0]["description"] == "Main menu"


async def test_resident_registers_with_buttons(running, demo_sessionmaker):
    p = running.person(running.emu.create_user(first_name="王秀英", language_code=None))
    answer = await p.send("/start")
    assert "请选择语言" in answer[0].text  # Telegram did not say: she chooses
    answer = await p.tap("简体中文")
    assert any("语言：简体中文" in (m.text or "") for m in answer)
    assert any("👋" in (m.text or "") for m in answer)
    assert any("您的信息和您的权利" in (m.text or "") for m in answer)
    await p.tap("✅ 同意")
    communities = await p.tap("📋 从列表中选择")
    assert "您住在哪个社区" in communities[-1].text
    grids = await p.tap("新站")
    assert "哪个网格" in grids[-1].text
    buildings = await p.tap("第一网格")
    assert "哪个楼栋" in buildings[-1].text
    building_label = buildings[-1].inline_buttons[0][0][0]
    done = await p.tap(building_label)
    assert any("✅ 您的住址" in (m.text or "") for m in done)
    user = await _user(demo_sessionmaker, p.id)
    async with demo_sessionmaker() as s:
        building = await s.get(Building, user.building_id)
    assert building.names["zh-Hans"] in building_label


async def test_english_and_traditional_flows(running):
    en = running.person(running.emu.create_user(first_name="Ann", language_code="en-us"))
    first = await en.send("/start")
    assert first[0].text.startswith("👋 Welcome!")
    await en.tap("✅ I agree")
    assert "Where do you live?" in en.messages()[-2].text and "Welcome" not in en.messages()[-2].text
    hant = running.person(running.emu.create_user(first_name="陳", language_code="zh-hk"))
    await hant.send("/start")
    assert "您的資訊和您的權利" in hant.last.text
    await hant.tap("✅ 同意")
    assert "您住在哪裡" in hant.messages()[-2].text
    other = running.person(running.emu.create_user(first_name="Otto", language_code="de"))
    asked = await other.send("/start")
    assert len(asked[-1].inline_buttons) == 3  # not one of ours: the three languages to choose from
    # The command list each sees: Telegram's by language code, a list of the chat's own only
    # where that one would be wrong (Traditional Chinese; the default list is Simplified).
    zh = running.person(running.emu.create_user(first_name="王", language_code="zh-hans"))
    await zh.send("/start")
    chat_lists = {p.id: running.emu.commands({"type": "chat", "chat_id": p.id}) for p in (en, hant, zh)}
    assert chat_lists[en.id] == [] and chat_lists[zh.id] == []
    assert chat_lists[hant.id][0] == {"command": "menu", "description": "主菜單"}
    assert running.emu.commands(language_code="en")[0] == {"command": "menu", "description": "Main menu"}
    assert running.emu.commands()[0] == {"command": "menu", "description": "主菜单"}


async def test_a_newcomers_first_words_give_her_chat_its_command_list(running):
    """The command list Telegram shows is set for a newcomer's chat on her first update, /start
    or not: a Traditional Chinese reader who first writes a few words sees her list in hers."""
    hant = running.person(running.emu.create_user(first_name="林", language_code="zh-tw"))
    answer = await hant.send("你好，我家水管漏水了")
    assert "您的資訊和您的權利" in answer[-1].text
    assert running.emu.commands({"type": "chat", "chat_id": hant.id})[0] == {"command": "menu",
                                                                            "description": "主菜單"}
    zh = running.person(running.emu.create_user(first_name="王", language_code="zh-hans"))
    await zh.send("你好")
    assert running.emu.commands({"type": "chat", "chat_id": zh.id}) == []  # Telegram's own list is in hers
    await zh.send("/start")  # not her first update: no list of her chat's own either
    assert running.emu.commands({"type": "chat", "chat_id": zh.id}) == []


async def test_after_cancelling_she_can_still_just_type_her_building(running, demo_sessionmaker):
    """She agreed, then tapped ❌ 取消 at "where do you live?"; a moment later she types her
    building's name anyway: it is searched at once, not answered with the welcome again."""
    p = running.person(running.emu.create_user(first_name="赵秀兰", language_code="zh-hans"))
    await p.send("/start")
    await p.tap(AGREE)
    cancelled = await p.tap("❌ 取消")
    assert any("随时" in (m.text or "") for m in cancelled)
    found = await p.send("站前 2号")
    assert "哪一栋是您家" in found[-1].text and not any("👋" in (m.text or "") for m in found)
    done = await p.tap("🏠 站前小区2号楼")
    assert any("✅ 您的住址" in (m.text or "") for m in done)
    assert (await _user(demo_sessionmaker, p.id)).building_id is not None
    other = running.person(running.emu.create_user(first_name="钱", language_code="zh-hans"))
    await other.send("/start")
    await other.tap(AGREE)
    await other.tap("❌ 取消")
    asked = await other.send("你好")  # no building's name: asked where she lives, as before
    assert any("您住在哪里" in (m.text or "") for m in asked)


async def test_typing_filters_and_paging_back(running):
    p = running.person(running.emu.create_user(first_name="李"))
    await p.send("/start")
    await p.tap("✅ 同意")
    await p.tap("📋 从列表中选择")
    answer = await p.send("龙泉")
    assert [row[0][0] for row in answer[-1].inline_buttons if row[0][1].startswith("pl:")] == ["龙泉社区"]
    grids = await p.tap("龙泉")
    assert "哪个网格" in grids[-1].text
    back = await p.tap("返回")
    assert [m.message_id for m in back] == [grids[-1].message_id]  # edited in place
    assert "您住在哪个社区" in back[-1].text
    to_search = await p.tap("返回")  # from the communities: back to typing a name
    assert [m.message_id for m in to_search] == [grids[-1].message_id]
    assert "📍 发送我的位置" in p.reply_keyboard()  # the step's keyboard, while she is asked
    cancelled = await p.tap("❌ 取消")
    assert cancelled[0].text == "已取消。"
    # The step ended: its keyboard went with it (issue 20), and nothing asks to be typed.
    assert cancelled[-1].text == "已取消。想登记时，随时给我发消息即可。"
    assert cancelled[-1].reply_markup == {"remove_keyboard": True} and p.reply_keyboard() == []
    # Typed /cancel while asked where she lives: the same.
    await p.send("/start")
    assert "📍 发送我的位置" in p.reply_keyboard()
    typed = await p.send("/cancel")
    assert typed[-1].reply_markup == {"remove_keyboard": True} and p.reply_keyboard() == []


async def test_location_offers_nearest_building(running, demo_sessionmaker):
    async with demo_sessionmaker() as s:
        building = await s.scalar(select(Building).where(Building.latitude.is_not(None)).order_by(Building.code))
    p = running.person(running.emu.create_user(first_name="张"))
    await p.send("/start")
    await p.tap("✅ 同意")
    answer = await p.share_location(building.latitude, building.longitude)
    assert "离您最近的楼栋" in answer[-1].text
    assert all(len(t) <= 28 for row in answer[-1].inline_buttons for t, _d in row)
    await p.tap(building.names["zh-Hans"])
    user = await _user(demo_sessionmaker, p.id)
    assert user.building_id == building.id


async def test_worker_registers_through_invite(running, demo_sessionmaker):
    payload = await _invite(demo_sessionmaker, Role.worker, "DC-XS-01")
    w = running.person(running.emu.create_user(first_name="网格员小赵"))
    answer = await w.send(f"/start {payload}")
    assert "您已登记为网格员" in answer[0].text
    assert "🗺️ 我的网格" in w.reply_keyboard()
    summary = await w.send("🗺️ 我的网格")
    assert "楼栋" in summary[0].text and "已登记居民" in summary[0].text
    commands = running.emu.commands(scope={"type": "chat", "chat_id": w.id})
    assert {"command": "diary", "description": "民情日志"} in commands
    assert not {"report", "broadcast"} & {c["command"] for c in commands}
    user = await _user(demo_sessionmaker, w.id)
    assert [(g.role, g.scope_type.value) for g in user.roles] == [(Role.worker, "grid")]
    async with demo_sessionmaker() as s:
        invite = await s.scalar(select(Invite).where(Invite.payload == payload))
    assert invite.used_by_user_id == user.id


async def test_each_role_gets_its_menu(running, demo_sessionmaker):
    expected = {
        (Role.grid_head, "DC-XS-02"): "🗺️ 我的网格",
        (Role.staff, "DC-XS"): "🏘️ 我的社区",
        (Role.department, "CG"): "🏛️ 我的部门",
        (Role.admin, "DC"): "✉️ 邀请工作人员",
    }
    # The chat's command list names the role's own commands too.
    role_commands = {
        Role.grid_head: {"diary", "report", "broadcast", "consult"},
        Role.staff: {"diary", "report", "broadcast", "consult"},
        Role.department: set(),
        Role.admin: {"report", "broadcast", "consult"},
    }
    everyone = {"menu", "mycases", "appointments", "profile", "family", "lang", "mydata", "deletemydata", "help",
                "cancel"}
    for (role, scope), button in expected.items():
        payload = await _invite(demo_sessionmaker, role, scope)
        person = running.person(running.emu.create_user(first_name=role.value))
        await person.send(f"/start {payload}")
        assert button in person.reply_keyboard(), (role, person.reply_keyboard())
        answer = await person.send(button)
        assert answer and answer[0].text
        listed = {c["command"] for c in running.emu.commands(scope={"type": "chat", "chat_id": person.id})}
        assert listed == everyone | role_commands[role], (role, listed)


async def test_invite_misuse(running, demo_sessionmaker):
    unknown = running.person(running.emu.create_user(first_name="A"))
    assert "邀请链接无效" in (await unknown.send("/start notavalidpayload123"))[0].text

    payload = await _invite(demo_sessionmaker, Role.worker, "DC-XS-01")
    first = running.person(running.emu.create_user(first_name="B"))
    await first.send(f"/start {payload}")
    second = running.person(running.emu.create_user(first_name="C"))
    assert "已经用过了" in (await second.send(f"/start {payload}"))[0].text
    assert (await _user(demo_sessionmaker, second.id)).roles == []

    expired = await _invite(demo_sessionmaker, Role.worker, "DC-XS-01", expires_in=timedelta(minutes=1),
                            now=utcnow() - timedelta(hours=1))
    late = running.person(running.emu.create_user(first_name="D"))
    assert "已过期" in (await late.send(f"/start {expired}"))[0].text


async def test_staff_invites_from_chat_and_forged_buttons_are_refused(running, demo_sessionmaker):
    secretary = running.person(running.emu.create_user(first_name="刘秀梅", user_id=7000000002))  # demo staff of DC-XS
    await secretary.send("/start")
    await secretary.send("✉️ 邀请工作人员")
    await secretary.tap("网格员")
    grids = [row[0][0] for row in secretary.last.inline_buttons]
    assert grids and all("新站" in g for g in grids), grids
    link = await secretary.tap(grids[0])
    assert "https://t.me/gridbot_test?start=" in link[-1].text
    payload = link[-1].text.rsplit("start=", 1)[1].split()[0]
    worker = running.person(running.emu.create_user(first_name="新人"))
    assert "网格员" in (await worker.send(f"/start {payload}"))[0].text

    # Forged: a grid of another community, an admin role, and a resident pressing staff buttons.
    async with demo_sessionmaker() as s:
        from models import Grid

        other = await s.scalar(select(Grid).where(Grid.code == "DC-LQ-01"))
    msg_id = secretary.last.message_id
    await secretary.press(msg_id, f"inv:worker:{other.id}")
    assert secretary.last_callback_answer()["show_alert"]
    await secretary.press(msg_id, "inv:admin:0")
    assert "没有权限" in secretary.last_callback_answer()["text"]
    await secretary.press(msg_id, "inv:mayor:0")
    assert "按钮已失效" in secretary.last_callback_answer()["text"]
    resident = running.person(running.emu.create_user(first_name="R"))
    await register_resident_by_buttons(resident)
    await resident.press(resident.last.message_id, f"inv:worker:{other.id}")
    assert resident.last_callback_answer()["show_alert"]
    async with demo_sessionmaker() as s:
        invites = (await s.scalars(select(Invite))).all()
    assert len(invites) == 1  # only the legitimate one


async def test_tampered_and_stale_callbacks(running, demo_sessionmaker):
    p = running.person(running.emu.create_user(first_name="T"))
    await p.send("/start")
    await p.tap("✅ 同意")
    msg = p.last.message_id
    await p.press(msg, "pl:b:99999999")
    assert "楼栋已不可选" in p.last_callback_answer()["text"]
    await p.press(msg, "garbage:data")
    assert "按钮已失效" in p.last_callback_answer()["text"]
    await p.press(msg, "lang:fr")
    assert "不支持这种语言" in p.last_callback_answer()["text"]
    assert (await _user(demo_sessionmaker, p.id)).building_id is None


async def test_double_click_on_building_is_harmless(running, demo_sessionmaker):
    p = running.person(running.emu.create_user(first_name="D"))
    await p.send("/start")
    await p.tap("✅ 同意")
    await p.tap("📋 从列表中选择")
    await p.tap("新站")
    await p.tap("第一网格")
    msg, data = p.find_button("1号楼")
    await p.press(msg.message_id, data)
    await p.press(msg.message_id, data)  # the second press of a double click
    user = await _user(demo_sessionmaker, p.id)
    assert user.building_id is not None
    assert sum("✅ 您的住址" in (m.text or "") for m in p.messages()) == 1


async def test_unknown_command_and_help(running):
    p = running.person(running.emu.create_user(first_name="U"))
    await register_resident_by_buttons(p)
    assert "没有这个命令" in (await p.send("/frobnicate"))[0].text
    helped = (await p.send("/help"))[0].text
    assert "👤 我的资料" in helped and not re.search(r"/[a-z]", helped)  # menu keys, never commands to type
    profile = await p.send("/profile")
    assert "住址" in profile[0].text


async def test_profile_change_building(running, demo_sessionmaker):
    p = running.person(running.emu.create_user(first_name="M"))
    await register_resident_by_buttons(p)
    await p.send("跳过")
    before = (await _user(demo_sessionmaker, p.id)).building_id
    await p.send("/profile")
    await p.tap("更改住址")
    await choose_home_from_lists(p, "龙泉")
    after = (await _user(demo_sessionmaker, p.id)).building_id
    assert after != before


async def test_profile_phone_is_not_a_registration(running, demo_sessionmaker):
    """Issue 20: changing the phone from 👤 我的资料 offers ❌ 取消 (not 跳过), never says "登记完成",
    and its keyboard goes when it ends, shared or cancelled."""
    p = running.person(running.emu.create_user(first_name="M", language_code="zh-hans"))
    await register_resident_by_buttons(p)
    await p.send("跳过")
    await p.send("👤 我的资料")
    asked = await p.tap("📱 更新手机号")
    assert asked[-1].text == "请点按钮分享您的手机号。" and p.reply_keyboard() == ["📱 分享我的手机号", "❌ 取消"]
    other = await p.send("13900000000")  # typed instead of shared: asked again, with the same way out
    assert "❌ 取消" in other[-1].text and p.reply_keyboard() == ["📱 分享我的手机号", "❌ 取消"]
    out = await p.send("❌ 取消")
    assert out[-1].text == "已取消。您的手机号没有改动。" and "👤 我的资料" in p.reply_keyboard()
    assert not any("登记完成" in (m.text or "") for m in out)
    assert (await _user(demo_sessionmaker, p.id)).phone is None
    await p.send("👤 我的资料")
    await p.tap("📱 更新手机号")
    saved = await p.share_contact("+8613900000002")
    assert [m.text for m in saved] == ["谢谢，手机号已保存。"] and "👤 我的资料" in p.reply_keyboard()
    assert (await _user(demo_sessionmaker, p.id)).phone == "+8613900000002"


async def test_registration_state_lives_in_redis(emulator, db_url, demo_sessionmaker, redis_url):
    bot = await start_bot(emulator, make_settings(emulator, db_url, REDIS_URL=redis_url), BOT_TOKEN)
    try:
        from aiogram.fsm.storage.redis import RedisStorage

        assert isinstance(bot.app.dp.storage, RedisStorage)
        p = bot.person(emulator.create_user(first_name="Redis"))
        await register_resident_by_buttons(p)
        assert "✅ 您的住址" in p.messages()[-2].text
    finally:
        await bot.stop()


async def test_a_strangers_burst_gets_the_notice_once_then_a_short_line(running, demo_sessionmaker):
    """Three lines typed one after another before agreeing: the notice once, then a short line
    with the button (not the whole notice three times); /start shows it whole again; the short
    line's button agrees; all three lines come back once she has registered."""
    p = running.person(running.emu.create_user(first_name="孙桂芳", language_code="zh-hans"))
    first = await p.send("你好")
    assert "您的信息和您的权利" in first[-1].text and "👋" in first[-1].text
    for words in ("我家水管漏水了", "能帮忙吗"):
        short = await p.send(words)
        assert len(short) == 1 and "您的信息和您的权利" not in short[-1].text
        assert "您的话我记下了" in short[-1].text and short[-1].inline_buttons[0][0][0] == "✅ 同意"
    again = await p.send("/start")  # a command is answered in full
    assert "您的信息和您的权利" in again[-1].text
    after_start = await p.send("在吗")  # words after a command: the notice is not just above as words were
    assert "您的信息和您的权利" in after_start[-1].text
    helped = await p.send("❓ 帮助")  # a menu button typed (or tapped from an old keyboard): its own answer
    assert "您的信息和您的权利" not in helped[-1].text
    after_help = await p.send("还有电梯")  # the help is just above, not the notice: the notice again
    assert "您的信息和您的权利" in after_help[-1].text
    short = await p.send("谢谢")
    await p.tap_in(short[-1], "✅ 同意")
    await p.send("站前 2号")
    await p.tap("🏠 站前小区2号楼")
    offer = (await p.send("跳过"))[-1].text or ""
    assert all(w in offer for w in ("我家水管漏水了", "能帮忙吗", "还有电梯", "谢谢")) and "/start" not in offer
    assert "帮助" not in offer  # a button is not her words


async def test_what_a_stranger_wrote_before_agreeing_is_offered_back_once(running, demo_sessionmaker):
    """Her first message is the matter itself; the privacy notice comes first and nothing is
    made of it.  Once she agreed and told where she lives, her words come back as an unsent
    request: ✅ Send files it, with those very words.  A later change of phone offers nothing."""
    p = running.person(running.emu.create_user(first_name="张桂兰", language_code="zh-hans"))
    first = await p.send("三号楼楼道的灯坏了，晚上看不见")
    assert any("您的信息和您的权利" in (m.text or "") for m in first)
    await p.send("/start")  # a command is not a matter: not offered back
    await p.tap("✅ 同意")
    await p.send("站前 2号")
    await p.tap("🏠 站前小区2号楼")
    offered = await p.send("跳过")
    offer = offered[-1].text or ""
    assert "您同意之前发来过" in offer and "三号楼楼道的灯坏了，晚上看不见" in offer and "/start" not in offer
    assert "✅ 发送" in p.reply_keyboard()
    async with demo_sessionmaker() as s:  # not sent before she says so
        assert (await s.scalar(select(Case).join(User, User.id == Case.resident_id)
                               .where(User.telegram_id == p.id))).status == CaseStatus.draft
    await p.send("✅ 发送")
    async with demo_sessionmaker() as s:
        case = await s.scalar(select(Case).join(User, User.id == Case.resident_id).where(User.telegram_id == p.id))
        assert case.status == CaseStatus.new and case.description == "三号楼楼道的灯坏了，晚上看不见"
    await p.send("👤 我的资料")
    await p.tap("📱")
    answer = await p.send("跳过")
    assert not any("您同意之前发来过" in (m.text or "") for m in answer)
    seen = len(p.messages())
    await p.forge("pv:agree")  # "I agree" pressed again (an old button, a forged one): offered no more
    assert not any("您同意之前发来过" in (m.text or "") for m in p.messages()[seen:])
    async with demo_sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Case).join(User, User.id == Case.resident_id)
                              .where(User.telegram_id == p.id)) == 1
