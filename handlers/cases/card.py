"""What everyone does with one case: open its card, see its attachments, talk
about it (relay), add an internal note, flag or acknowledge an emergency.

Who may do what is decided by the services on every press: a forged button
gets the same answer as a case that does not exist.
"""

from __future__ import annotations

from aiogram import Bot, F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases
from bot.services.cases import Capacity, FileRef
from bot.services.errors import DomainError
from bot.services.escape import esc
from handlers.cases.flow import ask, drop, finish, pressed
from handlers.cases.ui import (
    DONE,
    CaseCb,
    CaseChat,
    CaseNote,
    button,
    cancel_button,
    card_keyboard,
    case_card,
    done_keyboard,
    rows,
)
from handlers.common import show_menu
from handlers.keyboards import MenuLabel
from handlers.replies import edit_in_place
from handlers.routing import on_press
from models import AttachmentKind, User, utcnow


def file_ref(message: Message) -> FileRef | None:
    """The file a message carries (the largest size of a photo), as Telegram's ids."""
    caption = message.caption
    if message.photo:
        p = message.photo[-1]
        return FileRef(AttachmentKind.photo, p.file_id, p.file_unique_id, caption=caption)
    for kind, media in ((AttachmentKind.voice, message.voice), (AttachmentKind.audio, message.audio),
                        (AttachmentKind.video, message.video), (AttachmentKind.video_note, message.video_note),
                        (AttachmentKind.document, message.document)):
        if media is not None:
            return FileRef(kind, media.file_id, media.file_unique_id, file_name=getattr(media, "file_name", None),
                           mime_type=getattr(media, "mime_type", None), caption=caption)
    return None


def photo_ref(message: Message) -> FileRef | None:
    """The photo a message carries; None for anything else."""
    ref = file_ref(message)
    return ref if ref is not None and ref.kind == AttachmentKind.photo else None


async def require(session: AsyncSession, user: User, case_id: int, action: str, i18n: PoI18n) -> str:
    """Before a conversation starts: ``action`` must be open to ``user`` now (the
    service checks again when it is done); else a refusal.  The case's number, for the prompt."""
    v = await cases.require_action(session, user, case_id, action, i18n.current_locale, utcnow())
    return v.case.number or ""


async def send_card(message: Message, session: AsyncSession, user: User, case_id: int, i18n: PoI18n,
                    settings: Settings) -> None:
    v = await cases.view(session, user, case_id, i18n.current_locale, utcnow())
    await message.answer(case_card(v, settings.tz), reply_markup=card_keyboard(v))


async def view(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User, i18n: PoI18n,
               settings: Settings) -> None:
    v = await cases.view(session, user, callback_data.id, i18n.current_locale, utcnow())
    await query.answer()
    text, markup = case_card(v, settings.tz), card_keyboard(v)
    if callback_data.action == "rfr":
        await edit_in_place(query, text, markup)
    elif isinstance(query.message, Message):
        await query.message.answer(text, reply_markup=markup)


async def privacy(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User, i18n: PoI18n,
                  settings: Settings) -> None:
    """The resident keeps their report out of the public list (Open311), or lets it back in."""
    case = await cases.set_private(session, user, callback_data.id, callback_data.action == "prv")
    v = await cases.view(session, user, case.id, i18n.current_locale, utcnow())
    if case.private:
        text = _("🔒 Case {number} is kept private: it is not published.")
    else:
        text = _("🌐 Case {number} may be published, without your name or your words.")
    await query.answer(text.format(number=case.number), show_alert=True)
    await edit_in_place(query, case_card(v, settings.tz), card_keyboard(v))
async def more(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
               i18n: PoI18n) -> None:
    """➕ More / ⬅️ Back: the card's other buttons, or its first ones, on the same message."""
    v = await cases.view(session, user, callback_data.id, i18n.current_locale, utcnow(), shown=False)
    await query.answer()
    if isinstance(query.message, Message):
        try:
            await query.message.edit_reply_markup(reply_markup=card_keyboard(v, more=callback_data.action == "more"))
        except TelegramBadRequest as exc:  # a double click: the keyboard is already that one
            if "message is not modified" not in exc.message:
                raise


async def stop(query: CallbackQuery, user: User, state: FSMContext) -> None:
    """❌ Cancel under a prompt about a case: the conversation ends, nothing is saved."""
    had = await state.get_state()
    await state.clear()
    await query.answer(_("Cancelled."))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        if had is not None:
            await show_menu(query.message, user, _("Cancelled."))


async def files(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User, bot: Bot) -> None:
    """Send the case's files again, by file id (the reader sees only what they may)."""
    items = await cases.attachments(session, user, callback_data.id)
    await query.answer()
    chat_id = query.from_user.id
    for a in items:
        caption = esc(a.caption[:1000]) if a.caption else None
        if a.kind == AttachmentKind.location and a.latitude is not None and a.longitude is not None:
            await bot.send_location(chat_id, a.latitude, a.longitude)
        elif a.kind == AttachmentKind.photo:
            await bot.send_photo(chat_id, a.file_id, caption=caption)
        elif a.kind == AttachmentKind.voice:
            await bot.send_voice(chat_id, a.file_id, caption=caption)
        elif a.kind == AttachmentKind.audio:
            await bot.send_audio(chat_id, a.file_id, caption=caption)
        elif a.kind == AttachmentKind.video:
            await bot.send_video(chat_id, a.file_id, caption=caption)
        elif a.kind == AttachmentKind.video_note:
            await bot.send_video_note(chat_id, a.file_id)
        else:
            await bot.send_document(chat_id, a.file_id, caption=caption)
    if not items:
        await bot.send_message(chat_id, _("No attachments."))


async def emergency_ask(query: CallbackQuery, callback_data: CaseCb) -> None:
    """First the public emergency numbers, then one tap alerts the grid team."""
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(
            cases.emergency_numbers(_) + "\n\n" + _("Shall I alert the grid team now?"),
            reply_markup=rows(button(_("🆘 Yes, alert them now"), CaseCb(action="emgy", id=callback_data.id))))


async def emergency_confirm(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                            settings: Settings) -> None:
    case = await cases.flag_emergency(session, settings, user, callback_data.id, utcnow())
    if (message := await pressed(query, session)) is not None:
        await message.edit_text(_("🆘 The grid team, the grid head and the community secretary have been "
                                  "alerted about case {number}. The alerts repeat until someone takes "
                                  "charge.").format(number=case.number))


async def emergency_ack(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                        settings: Settings, i18n: PoI18n) -> None:
    case = await cases.acknowledge_emergency(session, settings, user, callback_data.id, utcnow())
    text = _("You have taken charge of emergency {number}.").format(number=case.number)
    if (message := await pressed(query, session, text, alert=True)) is not None:
        await send_card(message, session, user, case.id, i18n, settings)


async def chat_start(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                     state: FSMContext, i18n: PoI18n) -> None:
    v = await cases.view(session, user, callback_data.id, i18n.current_locale, utcnow())
    if "chat" not in v.actions:
        await query.answer(_("You cannot write about case {number} now.").format(number=v.case.number),
                           show_alert=True)
        return
    to = _("your grid worker") if Capacity.resident in v.caps else _("the resident")
    await ask(query, state, CaseChat.talk,
              _("Write to {to} about case {number}: text, photos, voice or your location. "
                "Tap ✅ Done when you have finished.").format(to=to, number=v.case.number),
              more={"chat_case": v.case.id}, markup=done_keyboard())


async def chat_message(message: Message, session: AsyncSession, user: User, state: FSMContext,
                       settings: Settings) -> None:
    data = await state.get_data()
    case_id = int(data.get("chat_case", 0))
    ref = file_ref(message)
    location = (message.location.latitude, message.location.longitude) if message.location else None
    if ref is None and location is None and not message.text:
        await message.answer(_("I cannot pass that on. Please send text, a photo, a voice message, a document or "
                               "a location."))
        return
    try:
        relayed = await cases.send_message(session, settings, user, case_id, text=message.text, file=ref,
                                           location=location, now=utcnow())
    except DomainError as err:
        if err.code not in ("case_closed", "case", "not_owner"):
            raise  # the refusal path answers; the chat goes on
        await drop(message, state, err, user)  # nobody left to write to: the chat ends
        return
    await session.commit()
    if relayed.to is None:
        await message.answer(_("✓ Saved to case {number}. Your grid worker will see it when they accept the "
                               "case.").format(number=relayed.number))
    else:
        await message.answer(_("✓ Sent."))


async def chat_done(message: Message, user: User, state: FSMContext) -> None:
    await state.clear()
    await show_menu(message, user, _("Finished. You can write again from the case at any time."))


async def note_start(query: CallbackQuery, callback_data: CaseCb, session: AsyncSession, user: User,
                     state: FSMContext, i18n: PoI18n) -> None:
    number = await require(session, user, callback_data.id, "note", i18n)
    await ask(query, state, CaseNote.text, _("{number}: write the internal note (residents never see it), or send "
                                             "a photo.").format(number=number),
              more={"note_case": callback_data.id}, markup=cancel_button(callback_data.id))


async def note_message(message: Message, session: AsyncSession, user: User, state: FSMContext,
                       settings: Settings) -> None:
    data = await state.get_data()
    ref = file_ref(message)
    if message.text is None and photo_ref(message) is None:
        await message.answer(_("Please write the note, or send a photo."))
        return
    await cases.add_note(session, settings, user, int(data.get("note_case", 0)), text=message.text, file=ref,
                         now=utcnow())
    await finish(message, session, user, state, _("📝 Note saved."))


def register(router: Router) -> None:
    """Shared case handlers go on the first case router (before any catch-all)."""
    router.callback_query.register(view, CaseCb.filter(F.action.in_({"view", "rfr"})))
    router.callback_query.register(privacy, CaseCb.filter(F.action.in_({"prv", "pub"})))
    router.callback_query.register(more, CaseCb.filter(F.action.in_({"more", "less"})))
    router.callback_query.register(stop, CaseCb.filter(F.action == "stop"))
    on_press(router, CaseCb, {"files": files, "emg": emergency_ask, "emgy": emergency_confirm, "eack": emergency_ack,
                              "chat": chat_start, "note": note_start})
    router.message.register(chat_done, CaseChat.talk, F.text == DONE)
    router.message.register(chat_message, CaseChat.talk, ~F.text.startswith("/"), ~MenuLabel())
    router.message.register(note_message, CaseNote.text, ~F.text.startswith("/"), ~MenuLabel())
