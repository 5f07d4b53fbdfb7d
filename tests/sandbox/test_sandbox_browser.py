"""The sandbox page in headless Chromium (Debian's chromium, driven by Playwright):

* a new resident registers by tapping buttons while a grid worker of the same
  grid works in a second tab; the clock and the language switch act on both;
* a warm-heart proxy errand end to end: the resident files it with a photo,
  the worker accepts and resolves it in a second page, the resident signs off
  and rates, and both pages show every step;
* a show_alert answer as a dialog, the location picker, files and voice both
  ways, a deleted message disappearing, an open page surviving a restart;
* every test records all requests: nothing is loaded from outside 127.0.0.1.

Screenshots of every page land in ``test-artifacts/sandbox/``.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiogram.types import BufferedInputFile
from sqlalchemy import select

from bot.sandbox.runner import Sandbox
from models import Case, CaseRating, CaseStatus, CloseReason
from tests.sandbox.browser import ARTIFACTS, is_local
from tests.sandbox.conftest import sandbox_settings

PHONE = {"width": 390, "height": 844}
TIMEOUT = 15_000  # ms, for each wait on the bot


def png(width: int = 64, height: int = 48) -> bytes:
    """A small valid PNG (an orange square), built without an image library."""
    raw = b"".join(b"\x00" + b"\xf0\x80\x30" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


class Page:
    """One browser tab of the sandbox, used the way a person would."""

    def __init__(self, page: Any, errors: list[str]) -> None:
        self.page = page
        self.errors = errors

    async def bot_says(self, text: str | re.Pattern[str]) -> Any:
        bubble = self.page.locator(".msg.in .text", has_text=text).last
        await bubble.wait_for(timeout=TIMEOUT)
        return bubble

    async def tap(self, label: str) -> None:
        """Tap the newest inline button showing ``label``."""
        button = self.page.locator(".ikb-btn", has_text=label).last
        await button.wait_for(timeout=TIMEOUT)
        await button.click()

    async def key(self, label: str) -> None:
        """Tap a reply-keyboard button."""
        button = self.page.locator(".rkb-btn", has_text=label)
        await button.wait_for(timeout=TIMEOUT)
        await button.click()

    async def choose_file(self, kind: str, name: str, mime_type: str, data: bytes) -> None:
        """Open the attach sheet, pick ``kind`` (photo, file...) and choose the file: the
        upload dialog opens with it, not yet sent."""
        await self.page.click("#btn-attach")
        async with self.page.expect_file_chooser() as chooser_info:
            await self.page.click(f"#dlg-attach button[value={kind}]")
        await (await chooser_info.value).set_files({"name": name, "mimeType": mime_type, "buffer": data})

    async def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=False)


async def _open(context: Any) -> Page:
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on("console", lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None)
    return Page(page, errors)


async def _chat(context: Any, url: str, title: str | None = None) -> Page:
    """A new tab on a persona's chat by deep link (its title shown, if given),
    started: the bot has welcomed them back."""
    tab = await _open(context)
    await tab.page.goto(url)
    if title is not None:
        await tab.page.locator("#top-title", has_text=title).wait_for(timeout=TIMEOUT)
    await tab.page.click("#btn-start", timeout=TIMEOUT)
    await tab.bot_says("欢迎回来")
    return tab


@asynccontextmanager
async def _local_context(browser: Any, **options: Any) -> AsyncIterator[Any]:
    """A browser context that records every request; once it is closed, the
    pages must have asked for something, and for nothing outside 127.0.0.1."""
    context = await browser.new_context(**options)
    requests: list[str] = []
    context.on("request", lambda req: requests.append(req.url))
    try:
        yield context
    finally:
        await context.close()
    assert requests, "the page made no request at all?"
    outside = [url for url in requests if not is_local(url)]
    assert outside == [], f"the page loaded something from outside 127.0.0.1: {outside}"


async def test_resident_and_worker_side_by_side(browser, sandbox: Sandbox) -> None:
    async with _local_context(browser, viewport=PHONE, device_scale_factor=1, has_touch=True,
                              locale="zh-CN", timezone_id="Asia/Shanghai") as context:
        await _scenario(context, sandbox)


async def _scenario(context: Any, sandbox: Sandbox) -> None:
    resident = await _open(context)
    page = resident.page
    await page.goto(sandbox.url)
    # The persona list comes from the database, grouped, phone-sized.
    await page.locator(".persona[data-telegram-id='7000000014']", has_text="张伟").wait_for(timeout=TIMEOUT)
    # Who serves whom: a resident's grid workers by name, a worker's number of residents.
    her = await page.locator(".persona[data-telegram-id='7000000040'] .persona-detail").inner_text()
    assert "网格员：" in her and "张伟" in her
    assert "服务" in await page.locator(".persona[data-telegram-id='7000000014'] .persona-detail").inner_text()
    assert await page.locator("section[data-kind=worker] .persona").count() == 15
    assert await page.locator("#btn-new-resident").bounding_box() is not None
    box = await page.locator(".persona-open").first.bounding_box()
    assert box["height"] >= 48 and box["width"] > 250  # big touch targets on a phone
    await resident.shot("01-personas")

    # A new resident's first contact, in Chinese (issue 20): her Telegram speaks Chinese, so no
    # language question; two lines say what the bot is for and who answers; she finds her
    # building by typing a few characters of its name, without choosing a grid.
    await page.click("#btn-new-resident")
    await page.fill("#new-name", "王秀英")
    await page.click("#btn-create")
    await page.locator("#btn-start").click(timeout=TIMEOUT)
    welcome = await resident.bot_says("👋")
    assert "网格员" in await welcome.inner_text() and "请选择语言" not in await welcome.inner_text()
    await resident.tap("✅ 同意")  # the privacy notice
    await resident.bot_says("您已同意隐私说明")  # the bot edited its message in place
    assert await page.locator(".msg.in .meta .edited").count() >= 1
    await resident.bot_says("您住在哪里")
    await page.fill("#input", "站前 1号")
    await page.press("#input", "Enter")
    await resident.bot_says("哪一栋是您家")
    await resident.tap("站前小区1号楼")
    await page.locator("#toast", has_text="已保存").wait_for(timeout=TIMEOUT)  # callback toast
    await resident.bot_says("您的住址")
    await resident.key("分享我的手机号")  # request_contact: the page asks to share
    await page.locator("#dlg-contact[open]").wait_for()
    await page.fill("#contact-phone", "+8613900000077")
    await page.click("#dlg-contact button[value=share]")
    await resident.bot_says("手机号已保存")
    await resident.key("我的资料")
    await resident.bot_says("+8613900000077")
    await page.locator("#top-subtitle", has_text="站前小区1号楼").wait_for(timeout=TIMEOUT)

    # A photo with a caption, sent through the attach sheet.
    await resident.choose_file("photo", "door.png", "image/png", png())
    await page.locator("#dlg-upload[open] .upload-preview img").wait_for()
    await page.fill("#upload-caption", "楼道门坏了")
    await page.click("#dlg-upload button[value=send]")
    photo = page.locator(".msg.out img.photo")
    await photo.wait_for(timeout=TIMEOUT)
    await page.wait_for_function("() => document.querySelector('.msg.out img.photo').naturalWidth === 64")
    await page.locator(".msg.out .text", has_text="楼道门坏了").wait_for()
    await resident.shot("02-resident-registered")

    # Second tab: a grid worker of the same grid.
    worker = await _open(context)
    wpage = worker.page
    await wpage.goto(sandbox.url)
    await wpage.locator(".persona[data-telegram-id='7000000014'] .persona-open").click(timeout=TIMEOUT)
    await wpage.locator("#top-title", has_text="张伟").wait_for(timeout=TIMEOUT)
    await wpage.locator("#top-subtitle", has_text="新站社区第一网格").wait_for()
    await wpage.click("#btn-start")
    await worker.bot_says("欢迎回来")
    await worker.key("我的网格")
    summary = await worker.bot_says("已登记居民")
    # Demo resident 王桂芝 and the one who just registered in the other tab.
    assert "已登记居民：2" in await summary.inner_text()
    await worker.shot("03-worker")

    # The clock control: advance one day in the worker's tab; both tabs follow.
    await wpage.click("#btn-clock")
    await wpage.locator("#dlg-clock[open]").wait_for()
    await wpage.click("#dlg-clock [data-advance='86400']")
    await wpage.locator("#clock-offset", has_text="1 天").wait_for(timeout=TIMEOUT)
    await worker.shot("04-clock")
    await wpage.click("#dlg-clock button[value=close]")
    await wpage.locator("#clock-badge", has_text="+1 天").wait_for()
    await page.locator("#clock-badge", has_text="+1 天").wait_for(timeout=TIMEOUT)
    assert sandbox.clock.as_json()["offset_seconds"] == 86400

    # A message typed now carries the sandbox's date: a new day separator appears.
    await page.fill("#input", "/help")
    await page.press("#input", "Enter")
    await resident.bot_says("找人帮办")
    assert await page.locator(".day-sep").count() == 2

    # The page language: English in one tab switches the other as well.
    await page.select_option("#lang-select", "en")
    await page.locator("#input[placeholder='Message…']").wait_for()
    await wpage.locator("#clock-badge", has_text="+1 d").wait_for(timeout=TIMEOUT)
    await resident.shot("05-resident-english")
    await page.select_option("#lang-select", "zh-Hans")

    assert resident.errors == [] and worker.errors == [], resident.errors + worker.errors


async def test_alert_location_files_and_deletion(browser, sandbox: Sandbox) -> None:
    async with _local_context(browser, viewport=PHONE, has_touch=True) as context:
        tab = await _chat(context, f"{sandbox.url}/#/chat/7000000041", "李志远")  # a demo resident
        page = tab.page
        await page.locator("#top-subtitle", has_text="新站花园1号楼").wait_for()
        await tab.key("语言")
        await tab.bot_says("请选择语言")
        # A client may send any callback data: tamper with a button, press it,
        # and the bot's show_alert answer appears as a dialog.
        await page.evaluate("() => { document.querySelector('.ikb-btn[data-callback]').dataset.callback = 'gone'; }")
        await page.locator(".ikb-btn[data-callback='gone']").click()
        await page.locator("#dlg-alert[open]", has_text="按钮已失效").wait_for(timeout=TIMEOUT)
        await tab.shot("06-alert")
        await page.click("#dlg-alert button")

        # The location picker from the attach sheet: the buildings of the database on a plan.
        await page.click("#btn-attach")
        await page.click("#dlg-attach button[value=location]")
        await page.locator("#dlg-location[open] .map-building").first.wait_for(timeout=TIMEOUT)
        assert await page.locator(".map-building").count() == 40
        # The picker starts at the persona's own building.
        assert "新站花园1号楼" in await page.locator("#place-select option:checked").inner_text()
        await page.locator(".map-building").last.click()  # drawn last: on top of its neighbours
        picked = await page.locator("#place-select option:checked").inner_text()
        await tab.shot("07-location-picker")
        answers = await page.locator(".msg.in").count()
        await page.click("#dlg-location button[value=share]")
        card = page.locator(".msg.out .place-card", has_text="靠近")
        await card.wait_for(timeout=TIMEOUT)
        assert picked.split(" · ")[0] in await card.inner_text()
        await page.locator(".msg.in").nth(answers).wait_for(timeout=TIMEOUT)  # the bot answered it
        location = sandbox.emulator.user_messages(7000000041)[-1].location
        assert location is not None and abs(location["latitude"] - float(await page.input_value("#loc-lat"))) < 1e-5
        await tab.shot("08-location-sent")

        # A file from the resident, through the attach sheet.
        await tab.choose_file("file", "申请表.pdf", "application/pdf", b"%PDF-1.4 sandbox")
        await page.click("#dlg-upload button[value=send]")
        await page.locator(".msg.out .file-card", has_text="申请表.pdf").wait_for(timeout=TIMEOUT)
        sent = sandbox.emulator.user_messages(7000000041)[-1]
        assert sent.kind == "document" and sandbox.emulator.file_bytes(sent.file_id) == b"%PDF-1.4 sandbox"

        # Files and voice from the bot can be downloaded; a deleted message disappears.
        bot = sandbox.app.bot
        doc = await bot.send_document(7000000041, BufferedInputFile("已受理".encode(), "回执.txt"),
                                      caption="受理回执")
        await bot.send_voice(7000000041, BufferedInputFile(b"OggS" + bytes(200), "voice.ogg"), duration=2)
        card = page.locator(".msg.in .file-card", has_text="回执.txt")
        await card.wait_for(timeout=TIMEOUT)
        href = await card.get_attribute("href")
        assert await page.evaluate("async (u) => (await fetch(u)).text()", href) == "已受理"
        await page.locator(".msg.in audio.voice").wait_for(state="attached", timeout=TIMEOUT)
        assert await page.locator(".msg.in .file-card", has_text="语音").count() == 1
        await tab.shot("09-files")
        await bot.delete_message(7000000041, doc.message_id)
        await card.wait_for(state="detached", timeout=TIMEOUT)
        assert tab.errors == [], tab.errors


async def test_open_page_survives_a_sandbox_restart(browser, make_sandbox, sqlite_url: str) -> None:
    first: Sandbox = await make_sandbox(sqlite_url)
    async with _local_context(browser, viewport=PHONE) as context:
        tab = await _chat(context, f"{first.url}/#/chat/7000000045")
        page = tab.page
        port = first.port
        await first.stop()
        await page.locator("#banner", has_text="连接中断").wait_for(timeout=TIMEOUT)
        await make_sandbox(sqlite_url, port=port)
        # The page finds the new sandbox by itself: an empty chat, ready to start again.
        await page.locator("#btn-start").wait_for(timeout=TIMEOUT)
        await page.locator("#banner").wait_for(state="hidden")
        await page.click("#btn-start")
        await tab.bot_says("欢迎回来")
        assert await page.locator(".msg.in").count() == 1
    # A refused connection while the server was down is the only console error allowed.
    assert all("ERR_CONNECTION_REFUSED" in e or "Failed to fetch" in e or "503" in e
               for e in tab.errors), tab.errors


async def test_warm_heart_proxy_case_end_to_end(browser, make_sandbox, sqlite_url: str) -> None:
    """A resident files a warm-heart proxy request with a photo; in a second page
    the grid worker accepts and resolves it; the resident confirms and rates.
    Both pages show every step."""
    from bot.services.l10n import translator

    zh = translator("zh-Hans")  # the bot's labels as the demo personas read them
    # No quiet hours: the outbox delivers whatever the hour the test runs at.
    sandbox: Sandbox = await make_sandbox(sqlite_url, settings=sandbox_settings(QUIET_HOURS=""))
    async with _local_context(browser, viewport=PHONE, has_touch=True) as context:
        resident = await _chat(context, f"{sandbox.url}/#/chat/7000000040", "王桂芝")  # 78, lives alone
        rpage = resident.page

        # Intake: the service, when, what the worker may do, then a photo, a few words, and Send.
        await resident.key(zh("🙋 Ask for help"))
        await resident.tap("居住证明")
        await resident.tap(zh("Within 3 days"))
        await resident.tap(zh("Collect my documents and hand them in for me"))
        await resident.choose_file("photo", "户口本.png", "image/png", png(80, 60))
        answered = await rpage.locator(".msg.in").count()
        await rpage.click("#dlg-upload button[value=send]")
        await rpage.locator(".msg.out img.photo").wait_for(timeout=TIMEOUT)
        await rpage.locator(".msg.in").nth(answered).wait_for(timeout=TIMEOUT)  # the bot took the photo
        await rpage.fill("#input", "孩子上学要居住证明，我腿脚不方便，请帮我去开。")
        await rpage.press("#input", "Enter")
        await resident.bot_says("📥")
        await resident.key(zh("✅ Send"))
        submitted = await resident.bot_says(re.compile(r"DC-\d{4}-\d{6}"))
        number = re.search(r"DC-\d{4}-\d{6}", await submitted.inner_text()).group(0)
        await resident.shot("10-case-resident-submitted")

        # Second page: 张伟, a grid worker of her grid, finds the new case waiting.
        worker = await _open(context)
        wpage = worker.page
        await wpage.goto(f"{sandbox.url}/#/chat/7000000014")
        notice = wpage.locator(".msg.in", has_text=number).first
        await notice.wait_for(timeout=TIMEOUT)
        await notice.locator(".ikb-btn", has_text=zh("✅ Accept")).click()
        await worker.tap(zh("➕ More"))  # a busy card shows five buttons at most (issue 20)
        await worker.tap(zh("📎 Show attachments"))  # the resident's photo
        await wpage.locator(".msg.in img.photo").wait_for(timeout=TIMEOUT)
        await worker.tap(zh("⬅️ Back"))
        await worker.tap(zh("✅ Mark as done"))
        await worker.bot_says(zh("{number}: what was done? Write a short note for the resident.").format(
            number=number))
        await wpage.fill("#input", "居住证明已开好，原件已送到您家")
        await wpage.press("#input", "Enter")
        await worker.bot_says(zh("Add a photo of the result, or tap Skip."))
        await worker.choose_file("photo", "证明.png", "image/png", png(90, 120))
        await wpage.click("#dlg-upload button[value=send]")
        await wpage.locator(".msg.out img.photo").wait_for(timeout=TIMEOUT)

        # The resident is told it was accepted, then sees the result with its photo, signs off and rates.
        await rpage.locator(".msg.in", has_text=number).nth(1).wait_for(timeout=TIMEOUT)  # accepted
        result = rpage.locator(".msg.in", has_text="居住证明已开好").last
        await result.wait_for(timeout=TIMEOUT)
        await result.locator("img.photo").wait_for()
        await result.locator(".ikb-btn", has_text=zh("✅ Solved, I sign off")).click()
        await resident.tap("⭐⭐⭐⭐⭐ 5")
        await resident.bot_says(zh("Thank you! Anything you want to add? Write a comment, or tap Skip."))
        await rpage.fill("#input", "非常感谢张师傅")
        await rpage.press("#input", "Enter")
        await worker.bot_says("非常感谢张师傅")
        await resident.shot("11-case-resident-rated")
        await worker.shot("12-case-worker")

        # Every step is on both pages, and in the database.
        rtext, wtext = await rpage.inner_text("#messages"), await wpage.inner_text("#messages")
        assert rtext.count(number) >= 3 and wtext.count(number) >= 2
        # The last message of each page is in view (the chat follows the conversation).
        for p in (rpage, wpage):
            assert await p.evaluate("() => { const l = document.querySelector('#messages');"
                                    " return l.scrollHeight - l.scrollTop - l.clientHeight < 80; }")
        async with sandbox.sessionmaker() as s:
            case = await s.scalar(select(Case).where(Case.number == number))
            rating = await s.scalar(select(CaseRating).where(CaseRating.case_id == case.id))
        assert case.status == CaseStatus.closed and case.close_reason == CloseReason.confirmed
        assert rating.score == 5 and rating.comment == "非常感谢张师傅"
        assert resident.errors == [] and worker.errors == [], resident.errors + worker.errors
