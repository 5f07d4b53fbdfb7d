"""File uploads, file_id reuse, getFile and downloads in both directions."""

from __future__ import annotations

import struct
import zlib

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile

from bot.sandbox.emulator import BotAPIEmulator, EmuUser
from tests.emulator.conftest import TOKEN


def png(width: int, height: int) -> bytes:
    """A valid (tiny, blank) PNG of the given size."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


async def test_document_upload_get_file_and_download(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    payload = "巡查日志\n第1行".encode()
    sent = await bot.send_document(
        user.id,
        BufferedInputFile(payload, filename="日志.txt"),
        caption="<b>日志</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None and sent.document.file_name == "日志.txt"
    assert sent.caption == "日志" and sent.caption_entities[0].type == "bold"
    file = await bot.get_file(sent.document.file_id)
    assert file.file_size == len(payload) and file.file_path
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None and downloaded.read() == payload
    assert emu.file_bytes(sent.document.file_id) == payload
    record = emu.messages(user.id)[-1]
    assert (record.kind, record.file_id, record.caption) == (
        "document",
        sent.document.file_id,
        "日志",
    )


async def test_photo_sizes_and_resend_by_file_id(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    picture = png(64, 48)
    sent = await bot.send_photo(user.id, BufferedInputFile(picture, "p.png"))
    assert sent.photo is not None and len(sent.photo) == 3
    assert (sent.photo[-1].width, sent.photo[-1].height) == (64, 48)
    again = await bot.send_photo(user.id, sent.photo[-1].file_id, caption="again")
    assert [p.file_id for p in again.photo] == [p.file_id for p in sent.photo]
    assert (await bot.download(again.photo[0])).read() == picture

    with pytest.raises(TelegramBadRequest, match="can't use file of type Photo as Document"):
        await bot.send_document(user.id, sent.photo[-1].file_id)
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(user.id, "AgACnot-a-real-id")
    with pytest.raises(TelegramBadRequest, match="invalid file_id"):
        await bot.get_file("nope")
    with pytest.raises(TelegramBadRequest, match="file must be non-empty"):
        await bot.send_voice(user.id, BufferedInputFile(b"", "v.ogg"))


async def test_bot_voice_upload(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    voice = await bot.send_voice(user.id, BufferedInputFile(b"OggS-voice", "v.ogg"), duration=4)
    assert voice.voice is not None and voice.voice.duration == 4
    assert emu.messages(user.id)[-1].kind == "voice"
    assert emu.file_bytes(voice.voice.file_id) == b"OggS-voice"


async def test_user_media_can_be_downloaded_by_the_bot(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    picture = png(32, 32)
    await emu.send_photo(user, picture, caption="井盖破损")
    await emu.send_voice(user, b"OggS...", duration=5)
    await emu.send_document(user, b"%PDF-1.4", "report.pdf", "application/pdf")
    photo_u, voice_u, doc_u = await bot.get_updates()

    assert photo_u.message.caption == "井盖破损"
    assert (await bot.download(photo_u.message.photo[-1])).read() == picture
    assert voice_u.message.voice.duration == 5
    assert (await bot.download(voice_u.message.voice)).read() == b"OggS..."
    assert doc_u.message.document.file_name == "report.pdf"
    assert doc_u.message.document.mime_type == "application/pdf"
    assert (await bot.download(doc_u.message.document)).read() == b"%PDF-1.4"
    assert [m.kind for m in emu.user_messages(user.id)] == ["photo", "voice", "document"]


async def test_audio_video_and_video_notes_both_ways(emu: BotAPIEmulator, bot: Bot, user: EmuUser) -> None:
    await emu.send_audio(user, b"ID3-song", "歌.mp3", duration=180, caption="广场舞")
    await emu.send_video(user, b"mp4-clip", duration=9, width=1280, height=720, caption="漏水")
    await emu.send_video_note(user, b"mp4-round", duration=7, length=384)
    audio_u, video_u, note_u = await bot.get_updates()
    audio, video, note = audio_u.message.audio, video_u.message.video, note_u.message.video_note
    assert (audio.duration, audio.file_name, audio_u.message.caption) == (180, "歌.mp3", "广场舞")
    assert (video.duration, video.width, video.height, video_u.message.caption) == (9, 1280, 720, "漏水")
    assert (note.duration, note.length) == (7, 384)
    assert (await bot.download(note)).read() == b"mp4-round"

    # The bot sends them on by file_id (what the case card and the diary do) or uploads its own.
    sent_audio = await bot.send_audio(user.id, audio.file_id, caption="转发")
    sent_video = await bot.send_video(user.id, video.file_id)
    sent_note = await bot.send_video_note(user.id, note.file_id)
    uploaded = await bot.send_video(user.id, BufferedInputFile(b"mp4-new", "n.mp4"), duration=3)
    assert sent_audio.audio.file_id == audio.file_id and sent_audio.caption == "转发"
    assert sent_video.video.file_id == video.file_id and sent_note.video_note.length == 384
    assert uploaded.video.duration == 3 and emu.file_bytes(uploaded.video.file_id) == b"mp4-new"
    assert [m.kind for m in emu.messages(user.id)][-4:] == ["audio", "video", "video_note", "video"]
    # A file of one kind is not accepted as another, as in Telegram.
    with pytest.raises(TelegramBadRequest, match="can't use file of type Video_Note as Video"):
        await bot.send_video(user.id, note.file_id)


async def test_file_route_checks_token_and_path(emu: BotAPIEmulator, user: EmuUser) -> None:
    action = await emu.send_document(user, b"abc", "a.bin")
    file_id = action.update["message"]["document"]["file_id"]
    path = emu.state.files[file_id].file_path
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{emu.base_url}/file/bot{TOKEN}/{path}") as resp:
            assert resp.status == 200 and await resp.read() == b"abc"
        async with http.get(f"{emu.base_url}/file/bot{TOKEN}/documents/missing.bin") as resp:
            assert resp.status == 404
        async with http.get(f"{emu.base_url}/file/bot1:bad/{path}") as resp:
            assert resp.status == 401


async def test_direct_multipart_file_field_and_caption_edit(
    emu: BotAPIEmulator, bot: Bot, user: EmuUser
) -> None:
    form = aiohttp.FormData()
    form.add_field("chat_id", str(user.id))
    form.add_field("caption", "原图")
    form.add_field("photo", png(8, 8), filename="x.png", content_type="image/png")
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{emu.base_url}/bot{TOKEN}/sendPhoto", data=form) as resp:
            body = await resp.json()
    assert body["ok"] is True and body["result"]["caption"] == "原图"
    message_id = body["result"]["message_id"]
    edited = await bot.edit_message_caption(chat_id=user.id, message_id=message_id, caption="新")
    assert edited.caption == "新"
    record = emu.message(user.id, message_id)
    assert (record.kind, record.caption, record.edits) == ("photo", "新", 1)
    assert record.mime_type == "image/png"
